package transport

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// gateConn is a net.Conn whose Write blocks until the test opens the gate,
// so the test controls exactly when the writer is busy.
type gateConn struct {
	net.Conn // nil: only Write, Close and SetWriteDeadline are used
	entered  chan struct{}
	gate     chan struct{}
	mu       sync.Mutex
	writes   [][]byte
}

func (c *gateConn) Write(b []byte) (int, error) {
	c.entered <- struct{}{}
	<-c.gate
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), b...))
	c.mu.Unlock()
	return len(b), nil
}

func (c *gateConn) Close() error { return nil }

// TestWriterCoalesces checks the batching property directly: frames queued
// while a write is in progress all go out in the next single write.
func TestWriterCoalesces(t *testing.T) {
	for _, queued := range []int{1, 2, 100, 5000} {
		conn := &gateConn{entered: make(chan struct{}), gate: make(chan struct{})}
		var st counters
		w := newFrameWriter(conn, 0, &st, func(err error) { t.Errorf("write error: %v", err) })
		done := make(chan struct{})
		go func() { defer close(done); w.run() }()

		var want []byte
		want = appendFrame(want, kindRequest, 1, 1, []byte("first"))
		w.enqueue(kindRequest, 1, 1, []byte("first"))
		<-conn.entered // the writer is now inside Write with the first frame
		for i := range queued {
			p := bytes.Repeat([]byte{byte(i)}, i%50)
			want = appendFrame(want, kindRequest, 1, uint64(i+2), p)
			w.enqueue(kindRequest, 1, uint64(i+2), p)
		}
		conn.gate <- struct{}{} // finish the first write
		<-conn.entered          // the second write carries everything queued
		conn.gate <- struct{}{}
		w.shutdown(false)
		<-done

		if len(conn.writes) != 2 {
			t.Fatalf("%d frames queued behind a write took %d writes, want 1", queued, len(conn.writes)-1)
		}
		if got := bytes.Join(conn.writes, nil); !bytes.Equal(got, want) {
			t.Fatalf("written bytes differ from the frames queued")
		}
		if st.writes.Load() != 2 || st.bytesSent.Load() != int64(len(want)) {
			t.Fatalf("counters: %d writes, %d bytes", st.writes.Load(), st.bytesSent.Load())
		}
		if w.enqueue(kindRequest, 1, 1, nil) {
			t.Fatal("enqueue accepted a frame after shutdown")
		}
	}
}
