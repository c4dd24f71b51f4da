package stall

import (
	"fmt"
	"sync"
	"time"
)

// Config configures a Detector.
type Config struct {
	// Tick is how often the detector wakes. Default 50ms.
	Tick time.Duration
	// MinStall is the shortest gap between two wakes that counts as a
	// stall. It must stay well above the scheduling delays of a busy
	// machine. Default 500ms.
	MinStall time.Duration
	// Keep is how many recent stalls are remembered. Default 8.
	Keep int
	// ReadSlack is how long after a stall's end (or after it began
	// waiting, if later) a read may return and still be taken for one
	// that waited through the stall (ReadArrival): the process's
	// goroutines may run late as it catches up with what waited. It
	// must be at least MinStall. Default 5s.
	ReadSlack time.Duration
	// Now is the clock; its readings must carry Go's monotonic clock.
	// Default time.Now.
	Now func() time.Time
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Tick: 50 * time.Millisecond, MinStall: 500 * time.Millisecond, Keep: 8, ReadSlack: 5 * time.Second, Now: time.Now}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Tick <= 0:
		return fmt.Errorf("stall: Tick %v must be positive", c.Tick)
	case c.MinStall <= c.Tick:
		return fmt.Errorf("stall: MinStall %v must be longer than Tick %v", c.MinStall, c.Tick)
	case c.Keep < 1:
		return fmt.Errorf("stall: Keep %d must be at least 1", c.Keep)
	case c.ReadSlack < c.MinStall:
		return fmt.Errorf("stall: ReadSlack %v must be at least MinStall %v", c.ReadSlack, c.MinStall)
	}
	return nil
}

// Span is one stall: the process did not run from Start until about End
// (End is when the detector noticed, at most a Tick after it resumed).
type Span struct {
	Start, End time.Time
}

// Detector records stalls of the process. Create it with Start and stop
// it with Close; its methods are safe for concurrent use. A nil
// *Detector records nothing: Arrival returns the read time.
type Detector struct {
	cfg Config

	mu struct {
		sync.Mutex
		// beat is the detector's last wake; a wake more than MinStall
		// after it records a stall.
		beat time.Time
		// spans holds the last Keep stalls, oldest first.
		spans []Span
		// total counts every stall recorded.
		total int64
	}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start returns a running Detector. cfg's zero fields take their defaults.
func Start(cfg Config) (*Detector, error) {
	def := DefaultConfig()
	if cfg.Tick == 0 {
		cfg.Tick = def.Tick
	}
	if cfg.MinStall == 0 {
		cfg.MinStall = def.MinStall
	}
	if cfg.Keep == 0 {
		cfg.Keep = def.Keep
	}
	if cfg.ReadSlack == 0 {
		cfg.ReadSlack = max(def.ReadSlack, cfg.MinStall)
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	d.mu.beat = cfg.Now()
	go d.loop()
	return d, nil
}

// Close stops the detector's goroutine and waits for it. Idempotent.
func (d *Detector) Close() error {
	if d == nil {
		return nil
	}
	d.once.Do(func() { close(d.stop) })
	<-d.done
	return nil
}

func (d *Detector) loop() {
	defer close(d.done)
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.Beat()
		}
	}
}

// Beat records that the process runs now. The detector's goroutine calls
// it every Tick; tests call it to drive a detector by hand.
func (d *Detector) Beat() {
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.mu.beat) > d.cfg.MinStall {
		if len(d.mu.spans) == d.cfg.Keep {
			d.mu.spans = append(d.mu.spans[:0], d.mu.spans[1:]...)
		}
		d.mu.spans = append(d.mu.spans, Span{Start: d.mu.beat, End: now})
		d.mu.total++
	}
	d.mu.beat = now
}

// Stalls returns the remembered stalls, oldest first, and how many were
// recorded since Start.
func (d *Detector) Stalls() ([]Span, int64) {
	if d == nil {
		return nil, 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Span(nil), d.mu.spans...), d.mu.total
}

// Arrival returns the earliest moment that input may have arrived, given
// that it was returned by a read that ended at read, and that the
// previous read on the same connection ended at prev (the zero time if
// there was none): the socket held nothing older than prev. Without a
// stall between prev and read that is read itself; otherwise it is the
// later of prev and the stall's start. A stall still going on (the
// detector has not woken for longer than MinStall: the caller runs, the
// detector did not get to yet) counts as one that ends now.
func (d *Detector) Arrival(prev, read time.Time) time.Time {
	if d == nil {
		return read
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	earliest := read
	consider := func(s Span) {
		if !s.Start.Before(read) || !s.End.After(prev) {
			return
		}
		from := s.Start
		if prev.After(from) {
			from = prev
		}
		if from.Before(earliest) {
			earliest = from
		}
	}
	for _, s := range d.mu.spans {
		consider(s)
	}
	if now.Sub(d.mu.beat) > d.cfg.MinStall {
		consider(Span{Start: d.mu.beat, End: now})
	}
	return earliest
}

// ReadArrival is Arrival for a read that began waiting for input at wait
// (prev <= wait <= read): input that arrived during a stall is in the
// socket when the process runs again, so a read waiting then returns at
// once, and one that begins waiting later returns as it begins. A stall
// counts only if the read returned within ReadSlack of its end (the
// delay of a process catching up) and, when the read began waiting
// after the stall, within MinStall of that; a read that returned later
// waited for input that came after the stall. So an idle connection's
// first command after a stall long past is not taken for one that
// waited through it.
func (d *Detector) ReadArrival(prev, wait, read time.Time) time.Time {
	if d == nil {
		return read
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	spans := d.mu.spans
	if now.Sub(d.mu.beat) > d.cfg.MinStall {
		spans = append(spans[:len(spans):len(spans)], Span{Start: d.mu.beat, End: now})
	}
	earliest := read
	for _, s := range spans {
		if !s.Start.Before(read) || !s.End.After(prev) || read.Sub(s.End) > d.cfg.ReadSlack ||
			wait.After(s.End) && read.Sub(wait) > d.cfg.MinStall {
			continue
		}
		if from := later(s.Start, prev); from.Before(earliest) {
			earliest = from
		}
	}
	return earliest
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
