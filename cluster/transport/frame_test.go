package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func TestDecodeHeader(t *testing.T) {
	const max = 1024
	mk := func(length uint32, kind, op uint8, id uint64) []byte {
		return appendHeader(nil, header{length: length, kind: kind, op: op, id: id})
	}
	tests := []struct {
		name string
		b    []byte
		want error // nil: valid
	}{
		{"request", mk(10, kindRequest, 1, 1), nil},
		{"response at the limit", mk(max, kindResponse, 200, 1<<63), nil},
		{"conn-level error", mk(3, kindError, 0, 0), nil},
		{"error for a request", mk(3, kindError, 2, 9), nil},
		{"auth", mk(40, kindAuth, authHello, 0), nil},
		{"short", mk(1, kindRequest, 1, 1)[:headerLen-1], ErrProtocol},
		{"clock and budget", appendHeader(nil, header{length: 1, kind: kindRequest, op: 2, id: 3,
			clock: engine.Version{Wall: 1_700_000_000_000, Logical: 7}, budget: 999}), nil},
		{"over the limit", mk(max+1, kindRequest, 1, 1), ErrFrameTooLarge},
		{"max uint32 length", mk(1<<32-1, kindRequest, 1, 1), ErrFrameTooLarge},
		{"kind 0", mk(0, 0, 1, 1), ErrProtocol},
		{"kind 5", mk(0, 5, 1, 1), ErrProtocol},
		{"request id 0", mk(0, kindRequest, 1, 0), ErrProtocol},
		{"response id 0", mk(0, kindResponse, 1, 0), ErrProtocol},
		{"auth with id", mk(0, kindAuth, 1, 7), ErrProtocol},
		{"reserved byte", func() []byte { b := mk(0, kindRequest, 1, 1); b[7] = 1; return b }(), ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := decodeHeader(tt.b, max)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := appendHeader(nil, h); !bytes.Equal(got, tt.b) {
				t.Fatalf("re-encoded %x, want %x", got, tt.b)
			}
		})
	}
}

func TestFrameReaderStream(t *testing.T) {
	var stream []byte
	payloads := [][]byte{nil, []byte("a"), bytes.Repeat([]byte("b"), 100<<10)}
	for i, p := range payloads {
		stream = appendFrame(stream, kindRequest, uint8(i+1), uint64(i+1), p)
	}
	fr := newFrameReader(bytes.NewReader(stream), nil, 1<<20, 0, nil)
	for i, p := range payloads {
		h, got, err := fr.next()
		if err != nil || h.op != uint8(i+1) || h.id != uint64(i+1) || !bytes.Equal(got, p) {
			t.Fatalf("frame %d: %+v %d bytes %v", i, h, len(got), err)
		}
	}
	if _, _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
	// Cut anywhere inside a frame: ErrUnexpectedEOF, never a short frame.
	for cut := 1; cut < headerLen+1; cut++ {
		fr := newFrameReader(bytes.NewReader(stream[len(stream)-(100<<10)-headerLen:][:cut]), nil, 1<<20, 0, nil)
		if _, _, err := fr.next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: %v, want ErrUnexpectedEOF", cut, err)
		}
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame decoder: it must not
// panic, must respect the size limit, and every frame it accepts must
// re-encode to exactly the bytes it consumed.
func FuzzFrameReader(f *testing.F) {
	f.Add(appendFrame(nil, kindRequest, OpApply, 1, []byte("payload")))
	f.Add(appendFrame(appendFrame(nil, kindResponse, 1, 1, nil), kindError, 0, 0, []byte("bye")))
	f.Add(appendFrame(nil, kindAuth, authHello, 0, encodeHello("ringcache", make([]byte, nonceLen))))
	f.Add(appendHeader(nil, header{length: 5000, kind: kindRequest, op: 1, id: 1}))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	const max = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), nil, max, 0, nil)
		var consumed []byte
		for {
			h, p, err := fr.next()
			if err != nil {
				break
			}
			if len(p) > max || int(h.length) != len(p) {
				t.Fatalf("frame of %d bytes (header says %d) accepted with limit %d", len(p), h.length, max)
			}
			consumed = appendFrameHeader(consumed, h, p)
		}
		if !bytes.HasPrefix(data, consumed) {
			t.Fatal("accepted frames do not re-encode to the input")
		}
	})
}

// FuzzDecodeHello checks the hello decoder on arbitrary input.
func FuzzDecodeHello(f *testing.F) {
	f.Add(encodeHello("ringcache", make([]byte, nonceLen)))
	f.Add(encodeHello("", make([]byte, nonceLen)))
	f.Add(append([]byte(nil), magic...))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, nonce, err := decodeHello(data)
		if err != nil {
			return
		}
		if len(nonce) != nonceLen || !bytes.Equal(encodeHello(name, nonce), data) {
			t.Fatalf("hello %x decoded to %q %x", data, name, nonce)
		}
	})
}
