package nemesis

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// logf prints a progress line to w, if any.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// stampWriter starts every line with the wall-clock time in UTC, as the
// nodes' logs do, so the two can be read side by side.
type stampWriter struct {
	w io.Writer

	mu struct {
		sync.Mutex
		midLine bool // the last write did not end a line
	}
}

func (s *stampWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	var b bytes.Buffer
	for len(p) > 0 {
		if !s.mu.midLine {
			b.WriteString(time.Now().UTC().Format("15:04:05.000 "))
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		b.Write(line)
		p = p[len(line):]
		s.mu.midLine = line[len(line)-1] != '\n'
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return n, nil
}
