package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// Frame layout (all integers big-endian):
//
//	bytes 0-3   payload length (uint32), at most Config.MaxFrameBytes
//	byte  4     kind (kindRequest .. kindAuth)
//	byte  5     operation code
//	bytes 6-7   reserved, must be zero
//	bytes 8-15  request id (uint64)
//	bytes 16-23 sender's clock: hybrid logical clock wall part (int64 ms)
//	bytes 24-27 sender's clock: logical part (uint32)
//	bytes 28-31 budget (uint32 ms): on a request, how long its caller
//	            still waited for it when it was sent; 0 means no deadline
//	then        payload
//
// Requests and responses carry a non-zero id chosen by the client; a
// response or error frame answers the request with the same id. Id 0 is
// reserved for frames about the connection itself: the handshake (kindAuth)
// and a fatal error frame sent just before the sender hangs up. The clock
// and budget fields are zero on frames with id 0.
const headerLen = 32

// Frame kinds.
const (
	kindRequest  uint8 = 1
	kindResponse uint8 = 2
	kindError    uint8 = 3
	kindAuth     uint8 = 4
)

type header struct {
	length uint32
	kind   uint8
	op     uint8
	id     uint64
	// clock is the sender's clock reading (Wall and Logical; Node is
	// not carried).
	clock engine.Version
	// budget is a request's time left, in milliseconds; 0: none.
	budget uint32
}

// appendHeader appends h's encoding to dst.
func appendHeader(dst []byte, h header) []byte {
	dst = binary.BigEndian.AppendUint32(dst, h.length)
	dst = append(dst, h.kind, h.op, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, h.id)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.clock.Wall))
	dst = binary.BigEndian.AppendUint32(dst, h.clock.Logical)
	return binary.BigEndian.AppendUint32(dst, h.budget)
}

// appendFrame appends a whole frame without clock or budget to dst.
func appendFrame(dst []byte, kind, op uint8, id uint64, payload []byte) []byte {
	return appendFrameHeader(dst, header{kind: kind, op: op, id: id}, payload)
}

// appendFrameHeader appends a whole frame with h's fields (its length
// taken from payload) to dst.
func appendFrameHeader(dst []byte, h header, payload []byte) []byte {
	h.length = uint32(len(payload))
	dst = appendHeader(dst, h)
	return append(dst, payload...)
}

// decodeHeader parses and validates a frame header. It never panics; every
// error wraps ErrProtocol or ErrFrameTooLarge.
func decodeHeader(b []byte, maxFrame int) (header, error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: short header (%d bytes)", ErrProtocol, len(b))
	}
	h := header{
		length: binary.BigEndian.Uint32(b[0:4]),
		kind:   b[4],
		op:     b[5],
		id:     binary.BigEndian.Uint64(b[8:16]),
		clock: engine.Version{
			Wall:    int64(binary.BigEndian.Uint64(b[16:24])),
			Logical: binary.BigEndian.Uint32(b[24:28]),
		},
		budget: binary.BigEndian.Uint32(b[28:32]),
	}
	if b[6] != 0 || b[7] != 0 {
		return header{}, fmt.Errorf("%w: reserved header bytes set", ErrProtocol)
	}
	if uint64(h.length) > uint64(maxFrame) {
		return header{}, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, h.length, maxFrame)
	}
	switch h.kind {
	case kindRequest, kindResponse:
		if h.id == 0 {
			return header{}, fmt.Errorf("%w: kind %d with id 0", ErrProtocol, h.kind)
		}
	case kindAuth:
		if h.id != 0 {
			return header{}, fmt.Errorf("%w: auth frame with id %d", ErrProtocol, h.id)
		}
	case kindError:
	default:
		return header{}, fmt.Errorf("%w: unknown frame kind %d", ErrProtocol, h.kind)
	}
	return h, nil
}

// frameReader reads frames from a buffered connection. A peer that stalls
// in the middle of a frame is cut off after stall; waiting for the first
// byte of the next frame is not bounded, so idle connections live on.
type frameReader struct {
	r        *bufio.Reader
	tr       *timedReader
	conn     net.Conn // nil: no deadlines (tests over plain readers)
	maxFrame int
	stall    time.Duration
	hdr      [headerLen]byte
	// arrived is the earliest moment the last frame's first byte may
	// have arrived (timedReader).
	arrived time.Time
}

// newFrameReader reads frames from r. arrival, if set, dates each read
// (Config.arrival); without it input arrived when it was read.
func newFrameReader(r io.Reader, conn net.Conn, maxFrame int, stall time.Duration, arrival func(prev, wait, read time.Time) time.Time) *frameReader {
	tr := &timedReader{r: r, arrival: arrival}
	return &frameReader{r: bufio.NewReaderSize(tr, 64<<10), tr: tr, conn: conn, maxFrame: maxFrame, stall: stall}
}

// timedReader dates its reads: arrived is the earliest moment the input
// of the latest read that returned data may have arrived, by arrival
// from the end of the read before (the socket held nothing older then),
// when it began waiting and when it returned. A read that filled its
// buffer may have left input as old as its own in the socket: the read
// after it is dated no later (full).
type timedReader struct {
	r       io.Reader
	arrival func(prev, wait, read time.Time) time.Time
	last    time.Time // when the latest read returned data
	arrived time.Time
	full    bool
}

func (t *timedReader) Read(p []byte) (int, error) {
	began := time.Now()
	n, err := t.r.Read(p)
	if n > 0 {
		now := time.Now()
		a := now
		if t.arrival != nil {
			a = t.arrival(t.last, began, now)
		}
		if t.full && t.arrived.Before(a) {
			a = t.arrived
		}
		t.last, t.arrived, t.full = now, a, n == len(p)
	}
	return n, err
}

// next reads one frame. The payload is freshly allocated, so it may be
// retained by the caller. io.EOF means the peer closed cleanly between
// frames; io.ErrUnexpectedEOF means it closed mid-frame. Afterwards
// fr.arrived tells when the frame's first byte may have arrived.
func (fr *frameReader) next() (header, []byte, error) {
	if _, err := fr.r.Peek(1); err != nil {
		return header{}, nil, err
	}
	// The first byte came with the latest read (buffered from it, or
	// read by the Peek).
	fr.arrived = fr.tr.arrived
	deadlineSet := false
	if fr.conn != nil && fr.stall > 0 && fr.r.Buffered() < headerLen {
		deadlineSet = true
		_ = fr.conn.SetReadDeadline(time.Now().Add(fr.stall))
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return header{}, nil, noEOF(err)
	}
	h, err := decodeHeader(fr.hdr[:], fr.maxFrame)
	if err != nil {
		return header{}, nil, err
	}
	if !deadlineSet && fr.conn != nil && fr.stall > 0 && fr.r.Buffered() < int(h.length) {
		deadlineSet = true
		_ = fr.conn.SetReadDeadline(time.Now().Add(fr.stall))
	}
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return header{}, nil, noEOF(err)
	}
	if deadlineSet {
		_ = fr.conn.SetReadDeadline(time.Time{})
	}
	return h, payload, nil
}

// suspendStall turns the mid-frame stall timeout off until the returned
// function is called, for the handshake, whose deadline covers it whole
// and must not be overridden.
func (fr *frameReader) suspendStall() func() {
	stall := fr.stall
	fr.stall = 0
	return func() { fr.stall = stall }
}

// noEOF turns a clean EOF inside a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
