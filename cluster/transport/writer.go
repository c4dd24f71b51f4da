package transport

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// frameWriter is a connection's single writer. Goroutines enqueue whole
// frames into a shared buffer; the writer goroutine swaps that buffer out
// and hands everything queued so far to one Write call. While a write is
// in the kernel the next frames pile up in the other buffer, so under load
// one syscall carries many frames, and with a single caller it carries
// one: coalescing costs no latency.
//
// The writer owns the connection's Close: it closes the socket when it
// exits, after a final drain on a graceful stop.
type frameWriter struct {
	conn    net.Conn
	timeout time.Duration
	stats   *counters
	onErr   func(error) // called once from the writer goroutine on a write error

	mu struct {
		sync.Mutex
		buf    []byte // frames queued and not yet handed to Write
		closed bool   // no more frames accepted
	}
	wake     chan struct{} // capacity 1: "the queue went from empty to non-empty"
	stop     chan struct{} // closed by shutdown
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
}

// maxSpare is the largest buffer the writer keeps for reuse; a burst of big
// frames should not pin its memory for the life of the connection.
const maxSpare = 1 << 20

func newFrameWriter(conn net.Conn, timeout time.Duration, stats *counters, onErr func(error)) *frameWriter {
	return &frameWriter{
		conn: conn, timeout: timeout, stats: stats, onErr: onErr,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// enqueue queues one frame without clock or budget; see enqueueHeader.
func (w *frameWriter) enqueue(kind, op uint8, id uint64, payload []byte) bool {
	return w.enqueueHeader(header{kind: kind, op: op, id: id}, payload)
}

// enqueueHeader queues one frame with h's fields. The payload is copied,
// so the caller may reuse it as soon as enqueueHeader returns. It reports
// false once the writer is closed.
func (w *frameWriter) enqueueHeader(h header, payload []byte) bool {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return false
	}
	wasEmpty := len(w.mu.buf) == 0
	w.mu.buf = appendFrameHeader(w.mu.buf, h, payload)
	w.mu.Unlock()
	if wasEmpty {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// shutdown stops the writer. hard closes the socket at once (pending frames
// are lost, a blocked Write returns); otherwise the writer writes what is
// queued, bounded by its write timeout, and then closes the socket.
func (w *frameWriter) shutdown(hard bool) {
	if hard {
		_ = w.conn.Close()
	}
	w.stopOnce.Do(func() { close(w.stop) })
}

// run is the writer goroutine.
func (w *frameWriter) run() {
	defer close(w.done)
	defer w.conn.Close()
	var spare []byte
	for {
		select {
		case <-w.wake:
			// Let the goroutines that are runnable right now (callers
			// woken by the responses just read, handlers finishing)
			// queue their frames before the write: under load this
			// turns many small writes into one, and with nothing else
			// runnable it returns at once.
			runtime.Gosched()
		case <-w.stop:
			w.mu.Lock()
			w.mu.closed = true
			w.mu.Unlock()
			_ = w.drain(&spare)
			return
		}
		if err := w.drain(&spare); err != nil {
			w.mu.Lock()
			w.mu.closed = true
			w.mu.Unlock()
			w.onErr(err)
			return
		}
	}
}

// drain writes everything queued, one Write per swap, until the queue is
// empty.
func (w *frameWriter) drain(spare *[]byte) error {
	for {
		w.mu.Lock()
		out := w.mu.buf
		w.mu.buf = (*spare)[:0]
		w.mu.Unlock()
		if len(out) == 0 {
			*spare = out
			return nil
		}
		if w.timeout > 0 {
			_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		n, err := w.conn.Write(out)
		w.stats.writes.Add(1)
		w.stats.bytesSent.Add(int64(n))
		if err != nil {
			return err
		}
		if cap(out) > maxSpare {
			out = nil
		}
		*spare = out
	}
}

// counters are the figures behind Stats and ServerStats.
type counters struct {
	requests  atomic.Int64
	errors    atomic.Int64
	bytesSent atomic.Int64
	bytesRecv atomic.Int64
	writes    atomic.Int64
	inFlight  atomic.Int64
	late      atomic.Int64
	expired   atomic.Int64
}
