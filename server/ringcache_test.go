package server

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/server/store"
)

func testViewStore() *viewStore {
	v := newViewStore()
	v.nodes = []store.NodeInfo{
		{ID: "n1", ClientAddr: "127.0.0.1:7001", State: "alive", VNodes: 128, Share: 1.0 / 3},
		{ID: "n2", ClientAddr: "127.0.0.1:7002", State: "suspect", VNodes: 128, Share: 1.0 / 3},
		{ID: "n3", ClientAddr: "127.0.0.1:7003", State: "dead", VNodes: 64, Share: 1.0 / 3, Role: "leaving"},
	}
	v.owners["k"] = []string{"n2", "n3", "n1"}
	v.records["live"] = store.LocalRecord{Value: []byte("v"), Version: "1700000000000.3.ab", ExpireAt: 1700000005000}
	v.records["empty"] = store.LocalRecord{Value: []byte{}, Version: "1.0.1"}
	v.records["tomb"] = store.LocalRecord{Version: "1700000000001.0.cd", Tombstone: true}
	return v
}

func TestRingcacheView(t *testing.T) {
	ts := startServer(t, DefaultConfig(), testViewStore())
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("ringcache", "nodes"), want: []any{
			[]any{"n1", "127.0.0.1:7001", "alive", int64(128), "0.3333", "normal"},
			[]any{"n2", "127.0.0.1:7002", "suspect", int64(128), "0.3333", "normal"},
			[]any{"n3", "127.0.0.1:7003", "dead", int64(64), "0.3333", "leaving"},
		}},
		{args: a("RINGCACHE", "NODES"), want: []any{
			[]any{"n1", "127.0.0.1:7001", "alive", int64(128), "0.3333", "normal"},
			[]any{"n2", "127.0.0.1:7002", "suspect", int64(128), "0.3333", "normal"},
			[]any{"n3", "127.0.0.1:7003", "dead", int64(64), "0.3333", "leaving"},
		}},
		{args: a("ringcache", "owners", "k"), want: []any{"n2", "n3", "n1"}},
		{args: a("RingCache", "Owners", "nobody"), want: []any{}},
		{args: a("ringcache", "localget", "live"), want: []any{"v", "1700000000000.3.ab", int64(1700000005000), int64(0)}},
		{args: a("ringcache", "localget", "empty"), want: []any{"", "1.0.1", int64(0), int64(0)}},
		{args: a("ringcache", "localget", "tomb"), want: []any{nil, "1700000000001.0.cd", int64(0), int64(1)}},
		{args: a("ringcache", "localget", "missing"), want: nil},
	})
}

func TestRingcacheErrors(t *testing.T) {
	ts := startServer(t, DefaultConfig(), testViewStore())
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("ringcache"), errText: "ERR wrong number of arguments for 'ringcache' command"},
		{args: a("ringcache", "foo"), errText: "ERR unknown subcommand 'foo'. Try RINGCACHE HELP."},
		{args: a("ringcache", "foo", "bar"), errText: "ERR unknown subcommand 'foo'. Try RINGCACHE HELP."},
		{args: a("ringcache", "nodes", "x"), errText: "ERR wrong number of arguments for 'ringcache|nodes' command"},
		{args: a("ringcache", "owners"), errText: "ERR wrong number of arguments for 'ringcache|owners' command"},
		{args: a("ringcache", "owners", "a", "b"), errText: "ERR wrong number of arguments for 'ringcache|owners' command"},
		{args: a("ringcache", "localget"), errText: "ERR wrong number of arguments for 'ringcache|localget' command"},
		{args: a("ringcache", "help", "x"), errText: "ERR wrong number of arguments for 'ringcache|help' command"},
		{args: a("ringcache", "consistency", "one", "all"), errText: "ERR RINGCACHE CONSISTENCY needs cluster mode"},
		{args: a("ringcache", "consistency"), errText: "ERR RINGCACHE CONSISTENCY needs cluster mode"},
	})
}

// TestRingcacheWithoutView: a store that cannot describe the cluster
// answers every view subcommand with an error naming it; HELP still works.
func TestRingcacheWithoutView(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("ringcache", "nodes"), errText: "ERR RINGCACHE NODES is not available on this store"},
		{args: a("ringcache", "Owners", "k"), errText: "ERR RINGCACHE OWNERS is not available on this store"},
		{args: a("RINGCACHE", "localget", "k"), errText: "ERR RINGCACHE LOCALGET is not available on this store"},
	})
	got, err := c.Do(context.Background(), "ringcache", "help").StringSlice()
	if err != nil || len(got) < 5 || !strings.HasPrefix(got[0], "RINGCACHE <subcommand>") || got[len(got)-2] != "HELP" {
		t.Fatalf("RINGCACHE HELP = %q, %v", got, err)
	}
	for _, sub := range []string{"NODES", "OWNERS <key>", "LOCALGET <key>", "CONSISTENCY"} {
		found := false
		for _, l := range got {
			found = found || strings.HasPrefix(l, sub)
		}
		if !found {
			t.Errorf("RINGCACHE HELP does not describe %s: %q", sub, got)
		}
	}
}

type respErr struct{}

func (respErr) Error() string     { return "store: no quorum" }
func (respErr) RESPError() string { return "NOQUORUM 1 of 2" }

func TestRingcacheLocalGetStoreError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errors.New("engine: closed"), "ERR engine: closed"},
		{respErr{}, "NOQUORUM 1 of 2"},
	} {
		v := testViewStore()
		v.localErr = tt.err
		ts := startServer(t, DefaultConfig(), v)
		run(t, ts.client(t, nil), []step{{args: a("ringcache", "localget", "live"), errText: tt.want}})
	}
}

// TestRingcacheRaw pins the exact RESP encoding: vnodes and expiry are
// integers, share and version bulk strings, a tombstone's value a null.
func TestRingcacheRaw(t *testing.T) {
	ts := startServer(t, DefaultConfig(), testViewStore())
	r := ts.dial(t)
	r.send("*3\r\n$9\r\nringcache\r\n$8\r\nlocalget\r\n$4\r\ntomb\r\n")
	for _, want := range []string{"*4", "$-1", "$18", "1700000000001.0.cd", ":0", ":1"} {
		if got := r.line(); got != want {
			t.Fatalf("LOCALGET tomb: got %q, want %q", got, want)
		}
	}
	r.send("RINGCACHE LOCALGET missing\r\nRINGCACHE NODES\r\n")
	want := []string{"$-1", "*3", "*6", "$2", "n1", "$14", "127.0.0.1:7001", "$5", "alive", ":128", "$6", "0.3333", "$6", "normal"}
	for _, w := range want {
		if got := r.line(); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	r.send("RINGCACHE BOGUS\r\n")
	for {
		l := r.line()
		if strings.HasPrefix(l, "-") {
			if l != "-ERR unknown subcommand 'BOGUS'. Try RINGCACHE HELP." {
				t.Fatalf("unknown subcommand reply %q", l)
			}
			break
		}
	}
}

func TestRingcacheInCommandTable(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	info, err := c.Do(ctx, "command", "info", "ringcache", "ringcache|localget").Slice()
	if err != nil || len(info) != 2 {
		t.Fatalf("COMMAND INFO = %v, %v", info, err)
	}
	top, ok := info[0].([]any)
	if !ok || top[0] != "ringcache" || top[1] != int64(-2) {
		t.Fatalf("COMMAND INFO ringcache = %#v", info[0])
	}
	var subs []string
	for _, s := range top[9].([]any) {
		subs = append(subs, s.([]any)[0].(string))
	}
	wantSubs := []string{"ringcache|consistency", "ringcache|help", "ringcache|hints", "ringcache|join", "ringcache|leave", "ringcache|localget", "ringcache|nodes", "ringcache|owners", "ringcache|remove", "ringcache|repair", "ringcache|script", "ringcache|transfers"}
	if !reflect.DeepEqual(subs, wantSubs) {
		t.Errorf("subcommands = %v, want %v", subs, wantSubs)
	}
	if lg, ok := info[1].([]any); !ok || lg[0] != "ringcache|localget" || lg[1] != int64(3) {
		t.Errorf("COMMAND INFO ringcache|localget = %#v", info[1])
	}
	docs, err := c.Do(ctx, "command", "docs", "ringcache").Slice()
	if err != nil || len(docs) != 2 || docs[0] != "ringcache" {
		t.Fatalf("COMMAND DOCS ringcache = %#v, %v", docs, err)
	}
	if !strings.Contains(strings.ToLower(fmtAny(docs[1])), "ringcache|nodes") {
		t.Errorf("COMMAND DOCS ringcache lacks its subcommands: %#v", docs[1])
	}
	names, err := c.Do(ctx, "command", "list").StringSlice()
	if err != nil || !contains(names, "ringcache") || !contains(names, "config|get") {
		t.Errorf("COMMAND LIST = %v, %v; want ringcache and config|get in it (subcommands too, as in Redis)", names, err)
	}
	// FILTERBY as redis-server 7 answers it (in its order).
	for _, tc := range []struct {
		args []any
		want []string
	}{
		{[]any{"pattern", "GET*"}, []string{"getrange", "getbit", "getex", "getset", "get", "getdel"}},
		{[]any{"pattern", "config*"}, []string{"config", "config|set", "config|help", "config|get", "config|resetstat"}}, // no CONFIG REWRITE here
		{[]any{"aclcat", "nosuch"}, nil},
		{[]any{"module", "foo"}, nil},
	} {
		got, err := c.Do(ctx, append([]any{"command", "list", "filterby"}, tc.args...)...).StringSlice()
		slices.Sort(got)
		slices.Sort(tc.want)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("COMMAND LIST FILTERBY %v = %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
	if got, err := c.Do(ctx, "command", "list", "filterby", "aclcat", "string").StringSlice(); err != nil || !contains(got, "incr") || contains(got, "del") {
		t.Errorf("COMMAND LIST FILTERBY ACLCAT string = %v, %v", got, err)
	}
	for _, bad := range [][]any{{"filterby"}, {"filterby", "pattern"}, {"foo"}, {"filterby", "pattern", "x*", "extra"}, {"filterby", "other", "x"}} {
		if err := c.Do(ctx, append([]any{"command", "list"}, bad...)...).Err(); err == nil || err.Error() != "ERR syntax error" {
			t.Errorf("COMMAND LIST %v = %v, want ERR syntax error", bad, err)
		}
	}
}

func fmtAny(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmtAny(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[any]any:
		var parts []string
		for k, e := range v {
			parts = append(parts, fmtAny(k)+":"+fmtAny(e))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case string:
		return v
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// levelsKey carries, in the test hook's contexts, the levels it was given.
type levelsKey struct{}

// ctxLog records which levels (if any) each Store call's context carried.
type ctxLog struct {
	mu    sync.Mutex
	calls []string // "op=levels", levels "" without an override
}

func (l *ctxLog) record(op string, ctx context.Context) {
	lv, _ := ctx.Value(levelsKey{}).(string)
	l.mu.Lock()
	l.calls = append(l.calls, op+"="+lv)
	l.mu.Unlock()
}

// take returns the calls recorded since the last take.
func (l *ctxLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

// consistencyServer starts a server whose hook tags contexts with the
// levels it received and refuses read level ALL with write level ONE.
// The returned function lists the hook's calls so far.
func consistencyServer(t *testing.T) (*testServer, *viewStore, *ctxLog, func() [][2]string) {
	t.Helper()
	log := &ctxLog{}
	var mu sync.Mutex
	var hookCalls [][2]string
	cfg := DefaultConfig()
	cfg.Consistency = func(ctx context.Context, read, write string) (context.Context, error) {
		mu.Lock()
		hookCalls = append(hookCalls, [2]string{read, write})
		mu.Unlock()
		if read == "ALL" && write == "ONE" {
			return nil, errors.New("cluster: ALL/ONE refused")
		}
		return context.WithValue(ctx, levelsKey{}, read+"/"+write), nil
	}
	v := testViewStore()
	v.ctxHook = log.record
	calls := func() [][2]string {
		mu.Lock()
		defer mu.Unlock()
		return append([][2]string(nil), hookCalls...)
	}
	return startServer(t, cfg, v), v, log, calls
}

func TestRingcacheConsistencyReachesStore(t *testing.T) {
	ts, v, log, hookCalls := consistencyServer(t)
	ctx := context.Background()
	c := ts.client(t, nil)
	a1, b := c.Conn(), c.Conn()
	defer a1.Close()
	defer b.Close()

	// exercise runs commands covering the batched path (GET, SET, MGET,
	// MSET), the per-command path (INCR, DEL, SET NX, DBSIZE) and INFO,
	// and returns the store calls they made.
	exercise := func(conn *redis.Conn) []string {
		t.Helper()
		log.take()
		if _, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "x", "1", 0)
			p.Get(ctx, "x")
			p.MGet(ctx, "x", "y")
			p.MSet(ctx, "y", "2")
			return nil
		}); err != nil {
			t.Fatalf("pipeline: %v", err)
		}
		for _, args := range [][]any{{"incr", "n"}, {"del", "y"}, {"set", "z", "1", "nx"}, {"dbsize"}, {"info", "keyspace"}} {
			if err := conn.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
				t.Fatalf("%v: %v", args, err)
			}
		}
		return log.take()
	}
	levelsOf := func(calls []string) map[string]bool {
		m := map[string]bool{}
		for _, c := range calls {
			m[c[strings.IndexByte(c, '=')+1:]] = true
		}
		return m
	}
	expectLevels := func(who string, calls []string, want string) {
		t.Helper()
		if len(calls) < 8 {
			t.Fatalf("%s: only %d store calls: %v", who, len(calls), calls)
		}
		if got := levelsOf(calls); len(got) != 1 || !got[want] {
			t.Errorf("%s: store calls carried %v, want only %q: %v", who, got, want, calls)
		}
	}

	expectLevels("a before", exercise(a1), "")
	if got, err := a1.Do(ctx, "ringcache", "consistency").StringSlice(); err != nil || !reflect.DeepEqual(got, []string{"DEFAULT", "DEFAULT"}) {
		t.Errorf("CONSISTENCY without override = %v, %v", got, err)
	}
	if err := a1.Do(ctx, "RINGCACHE", "consistency", "one", "All").Err(); err != nil {
		t.Fatal(err)
	}
	if got := hookCalls(); !reflect.DeepEqual(got, [][2]string{{"ONE", "ALL"}}) {
		t.Errorf("hook calls = %v, want [[ONE ALL]]", got)
	}
	expectLevels("a with override", exercise(a1), "ONE/ALL")
	expectLevels("b alongside", exercise(b), "")
	if err := a1.Do(ctx, "ringcache", "localget", "live").Err(); err != nil {
		t.Fatal(err)
	}
	if lv, _ := v.lastLocalCtx().Value(levelsKey{}).(string); lv != "ONE/ALL" {
		t.Errorf("LOCALGET context carried %q, want ONE/ALL", lv)
	}
	if got, err := a1.Do(ctx, "ringcache", "consistency").StringSlice(); err != nil || !reflect.DeepEqual(got, []string{"ONE", "ALL"}) {
		t.Errorf("CONSISTENCY = %v, %v; want [ONE ALL]", got, err)
	}

	// A refused or invalid change leaves the override as it was.
	for _, tt := range []struct {
		args []any
		want string
	}{
		{a("ringcache", "consistency", "all", "one"), "ERR cluster: ALL/ONE refused"},
		{a("ringcache", "consistency", "two", "one"), "ERR invalid consistency level 'two' (ONE, QUORUM or ALL)"},
		{a("ringcache", "consistency", "one", "x"), "ERR invalid consistency level 'x' (ONE, QUORUM or ALL)"},
		{a("ringcache", "consistency", "one"), "ERR wrong number of arguments for 'ringcache|consistency' command"},
		{a("ringcache", "consistency", "one", "all", "one"), "ERR wrong number of arguments for 'ringcache|consistency' command"},
	} {
		if err := a1.Do(ctx, tt.args...).Err(); err == nil || err.Error() != tt.want {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
	if got := len(hookCalls()); got != 2 {
		t.Errorf("hook called %d times, want 2 (invalid levels must not reach it)", got)
	}
	expectLevels("a after refusals", exercise(a1), "ONE/ALL")

	if err := a1.Do(ctx, "ringcache", "consistency", "quorum", "quorum").Err(); err != nil {
		t.Fatal(err)
	}
	expectLevels("a changed", exercise(a1), "QUORUM/QUORUM")

	if got, err := a1.Do(ctx, "ringcache", "consistency", "reset").Result(); err != nil || got != "OK" {
		t.Fatalf("CONSISTENCY RESET = %v, %v", got, err)
	}
	expectLevels("a after RESET", exercise(a1), "")
	if got, err := a1.Do(ctx, "ringcache", "consistency").StringSlice(); err != nil || !reflect.DeepEqual(got, []string{"DEFAULT", "DEFAULT"}) {
		t.Errorf("CONSISTENCY after RESET = %v, %v", got, err)
	}
}

// TestConnectionResetClearsConsistency: the RESET command restores a
// connection's defaults, its consistency levels included.
func TestConnectionResetClearsConsistency(t *testing.T) {
	ts, _, log, _ := consistencyServer(t)
	r := ts.dial(t)
	r.send("RINGCACHE CONSISTENCY one one\r\nGET k\r\n")
	if got := r.line(); got != "+OK" {
		t.Fatalf("CONSISTENCY: %q", got)
	}
	if got := r.line(); got != "$-1" {
		t.Fatalf("GET: %q", got)
	}
	if got := log.take(); !reflect.DeepEqual(got, []string{"get=ONE/ONE"}) {
		t.Errorf("store calls = %v, want [get=ONE/ONE]", got)
	}
	r.send("RESET\r\nGET k\r\n")
	if got := r.line(); got != "+RESET" {
		t.Fatalf("RESET: %q", got)
	}
	if got := r.line(); got != "$-1" {
		t.Fatalf("GET: %q", got)
	}
	if got := log.take(); !reflect.DeepEqual(got, []string{"get="}) {
		t.Errorf("store calls after RESET = %v, want [get=]", got)
	}
}

// TestConsistencyCtxDerivesFromServer: the hook is given the server's
// context (with the connection's write receipt), so an override derived
// from it is cancelled when Shutdown gives up and stuck store calls made
// under it unblock.
func TestConsistencyCtxDerivesFromServer(t *testing.T) {
	got := make(chan context.Context, 1)
	cfg := DefaultConfig()
	cfg.Consistency = func(ctx context.Context, read, write string) (context.Context, error) {
		got <- ctx
		return ctx, nil
	}
	ts := startServer(t, cfg, nil)
	if err := ts.client(t, nil).Do(context.Background(), "ringcache", "consistency", "one", "one").Err(); err != nil {
		t.Fatal(err)
	}
	if ctx := <-got; ctx.Done() != ts.Server.ctx.Done() || store.ReceiptFrom(ctx) == nil {
		t.Errorf("hook got %v, want the server's context with a receipt", ctx)
	}
}

func TestParseConsistency(t *testing.T) {
	tests := []struct {
		args    []string
		want    consistencyReq
		wantErr string
	}{
		{args: nil, want: consistencyReq{op: consistencyShow}},
		{args: []string{"reset"}, want: consistencyReq{op: consistencyReset}},
		{args: []string{"ReSeT"}, want: consistencyReq{op: consistencyReset}},
		{args: []string{"one", "all"}, want: consistencyReq{op: consistencySet, read: "ONE", write: "ALL"}},
		{args: []string{"QUORUM", "quorum"}, want: consistencyReq{op: consistencySet, read: "QUORUM", write: "QUORUM"}},
		{args: []string{"all", "One"}, want: consistencyReq{op: consistencySet, read: "ALL", write: "ONE"}},
		{args: []string{"one"}, wantErr: "ERR wrong number of arguments for 'ringcache|consistency' command"},
		{args: []string{"reset", "one"}, wantErr: "ERR invalid consistency level 'reset' (ONE, QUORUM or ALL)"},
		{args: []string{"one", "two", "three"}, wantErr: "ERR wrong number of arguments for 'ringcache|consistency' command"},
		{args: []string{"", "one"}, wantErr: "ERR invalid consistency level '' (ONE, QUORUM or ALL)"},
		{args: []string{"one", "any"}, wantErr: "ERR invalid consistency level 'any' (ONE, QUORUM or ALL)"},
		{args: []string{"one", "a\r\nb"}, wantErr: "ERR invalid consistency level 'a  b' (ONE, QUORUM or ALL)"},
	}
	for _, tt := range tests {
		args := make([][]byte, len(tt.args))
		for i, s := range tt.args {
			args[i] = []byte(s)
		}
		got, err := parseConsistency(args)
		if tt.wantErr != "" {
			if err == nil || replyText(err) != tt.wantErr {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

// FuzzParseLevel checks parseLevel against a naive oracle: a name is a
// level exactly when its upper-case form is one, and the canonical name is
// that upper-case form.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"one", "ONE", "Quorum", "all", "", "al", "alll", "ÅLL", "one\x00", "QUORUM "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseLevel(b)
		up := asciiUpper(b)
		valid := up == "ONE" || up == "QUORUM" || up == "ALL"
		if valid != (err == nil) {
			t.Fatalf("parseLevel(%q) = %q, %v; oracle says valid=%v", b, got, err, valid)
		}
		if valid && got != up {
			t.Fatalf("parseLevel(%q) = %q, want %q", b, got, up)
		}
		if !valid && !strings.HasPrefix(replyText(err), "ERR invalid consistency level '") {
			t.Fatalf("parseLevel(%q) error %q", b, replyText(err))
		}
	})
}

// asciiUpper upper-cases ASCII letters only, as command matching does.
func asciiUpper(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// TestStoreCtxDoesNotAllocate guards the hot path: choosing a command's
// context must cost no allocation, with or without an override.
func TestStoreCtxDoesNotAllocate(t *testing.T) {
	s := &Server{ctx: context.Background()}
	override := context.WithValue(s.ctx, levelsKey{}, "ONE/ONE")
	for _, tt := range []struct {
		name string
		ctx  context.Context
	}{
		{"no override", nil},
		{"override", override},
	} {
		c := &client{}
		c.setConsistency(tt.ctx, "ONE", "ONE")
		want := tt.ctx
		if want == nil {
			want = c.baseCtx(s) // made once per connection
		}
		var got context.Context
		if n := testing.AllocsPerRun(100, func() { got = c.storeCtx(s) }); n != 0 {
			t.Errorf("%s: storeCtx allocates %v times", tt.name, n)
		}
		if got != want {
			t.Errorf("%s: storeCtx = %v, want %v", tt.name, got, want)
		}
	}
}
