package server

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// rawWriter is a redcon.Conn that only collects what is written.
type rawWriter struct {
	redcon.Conn
	buf bytes.Buffer
}

func (w *rawWriter) WriteRaw(b []byte) { w.buf.Write(b) }
func (w *rawWriter) WriteNull()        { w.buf.WriteString("$-1\r\n") }
func (w *rawWriter) WriteArray(n int)  { w.buf.WriteString("*" + strconv.Itoa(n) + "\r\n") }
func (w *rawWriter) WriteInt(n int)    { w.buf.WriteString(":" + strconv.Itoa(n) + "\r\n") }
func (w *rawWriter) WriteBulkString(s string) {
	w.buf.WriteString("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n")
}

// TestReplyShapes: each shape in RESP3 and its RESP2 form, as Redis 7
// writes them.
func TestReplyShapes(t *testing.T) {
	cases := []struct {
		name         string
		write        func(w *reply)
		resp2, resp3 string
	}{
		{"null", func(w *reply) { w.WriteNull() }, "$-1\r\n", "_\r\n"},
		{"null array", func(w *reply) { w.WriteNullArray() }, "*-1\r\n", "_\r\n"},
		{"map", func(w *reply) { w.WriteMap(2) }, "*4\r\n", "%2\r\n"},
		{"set", func(w *reply) { w.WriteSet(3) }, "*3\r\n", "~3\r\n"},
		{"push", func(w *reply) { w.WritePush(3) }, "*3\r\n", ">3\r\n"},
		{"verbatim", func(w *reply) { w.WriteVerbatim("a\r\nb") }, "$4\r\na\r\nb\r\n", "=8\r\ntxt:a\r\nb\r\n"},
		{"double", func(w *reply) { w.WriteDouble(1.5) }, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"inf", func(w *reply) { w.WriteDouble(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"true", func(w *reply) { w.WriteBool(true) }, ":1\r\n", "#t\r\n"},
		{"false", func(w *reply) { w.WriteBool(false) }, ":0\r\n", "#f\r\n"},
	}
	for _, c := range cases {
		for _, resp3 := range []bool{false, true} {
			raw := &rawWriter{}
			w := &reply{Conn: raw, resp3: resp3}
			c.write(w)
			want := c.resp2
			if resp3 {
				want = c.resp3
			}
			if got := raw.buf.String(); got != want {
				t.Errorf("%s, resp3=%v: %q, want %q", c.name, resp3, got, want)
			}
		}
	}
}

// TestHello3: HELLO 3 with AUTH and SETNAME authenticates, names the
// connection and switches it to RESP3 in one step; replies then take
// RESP3's shapes until HELLO 2 or RESET.
func TestHello3(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequirePass = "secret"
	ts := startServer(t, cfg, nil)
	r := ts.dial(t)
	r.send("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
	if got := r.line(); !strings.HasPrefix(got, "-NOAUTH HELLO must be called") {
		t.Fatalf("HELLO 3 before AUTH: %q", got)
	}
	r.send("*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nsecret\r\n$7\r\nSETNAME\r\n$2\r\nme\r\n")
	if got := r.line(); got != "%7" {
		t.Fatalf("HELLO 3 AUTH SETNAME: %q, want a map of 7", got)
	}
	fields := map[string]string{}
	for range 7 {
		r.line()
		k := r.line()
		v := r.line()
		if strings.HasPrefix(v, "$") {
			v = r.line()
		}
		fields[k] = v
	}
	if fields["proto"] != ":3" || fields["server"] != "redis" {
		t.Fatalf("HELLO 3 fields %v", fields)
	}
	steps := []struct{ cmd, want string }{
		{"*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", "_"},
		{"*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n", "$2"},
		{"*1\r\n$5\r\nRESET\r\n", "+RESET"},
		{"*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", "-NOAUTH Authentication required."},
	}
	for _, s := range steps {
		r.send(s.cmd)
		if got := r.line(); got != s.want {
			t.Fatalf("%q: %q, want %q", s.cmd, got, s.want)
		}
		if s.want == "$2" {
			if name := r.line(); name != "me" {
				t.Fatalf("CLIENT GETNAME = %q", name)
			}
		}
	}
}
