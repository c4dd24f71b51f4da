package stall

import (
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

// fakeClock is a settable clock; readings keep no monotonic part, which
// is fine for comparisons within one test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// manual returns a detector whose goroutine never wakes on its own: the
// test beats it.
func manual(t *testing.T, clk *fakeClock) *Detector {
	t.Helper()
	d, err := Start(Config{Tick: time.Hour, MinStall: 2 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	d.cfg.MinStall = 500 * time.Millisecond // the test's scale; the loop still sleeps an hour
	d.cfg.ReadSlack = 5 * time.Second
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestArrivalWithoutStallIsTheRead(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d := manual(t, clk)
	for range 20 {
		clk.advance(50 * time.Millisecond)
		d.Beat()
	}
	read := clk.Now()
	if got := d.Arrival(read.Add(-time.Second), read); !got.Equal(read) {
		t.Fatalf("Arrival = %v, want the read %v", got, read)
	}
	if spans, n := d.Stalls(); len(spans) != 0 || n != 0 {
		t.Fatalf("stalls %v (%d) without a gap", spans, n)
	}
}

func TestArrivalThroughAStall(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d := manual(t, clk)
	d.Beat()
	before := clk.Now()                       // the last beat before the stop
	prevRead := before.Add(-10 * time.Second) // the connection was idle since
	clk.advance(15 * time.Second)             // SIGSTOP ... SIGCONT
	read := clk.advance(time.Millisecond)     // a read returns before the detector runs

	// Not noticed yet: the stall still counts, from the last beat.
	if got := d.Arrival(prevRead, read); !got.Equal(before) {
		t.Fatalf("before the detector noticed: Arrival = %v, want the stall's start %v", got, before)
	}
	clk.advance(4 * time.Millisecond)
	d.Beat() // noticed 5ms after the resume
	if got := d.Arrival(prevRead, read); !got.Equal(before) {
		t.Fatalf("after the detector noticed: Arrival = %v, want %v", got, before)
	}
	// A connection that read something after the resume, before the
	// detector noticed: its next bytes arrived after that read, not
	// during the stall.
	prevAfter := read
	read2 := clk.advance(time.Millisecond)
	if got := d.Arrival(prevAfter, read2); !got.Equal(prevAfter) {
		t.Fatalf("prev inside the detection lag: Arrival = %v, want prev %v", got, prevAfter)
	}
	// Reads well after the stall are fresh.
	for range 10 {
		clk.advance(50 * time.Millisecond)
		d.Beat()
	}
	prev3 := clk.Now()
	read3 := clk.advance(20 * time.Millisecond)
	if got := d.Arrival(prev3, read3); !got.Equal(read3) {
		t.Fatalf("after the stall: Arrival = %v, want the read %v", got, read3)
	}
	// A connection idle since before the stall whose bytes are read only
	// now may have waited since the stall began.
	if got := d.Arrival(prevRead, read3); !got.Equal(before) {
		t.Fatalf("idle connection read later: Arrival = %v, want %v", got, before)
	}
	if spans, n := d.Stalls(); n != 1 || len(spans) != 1 || !spans[0].Start.Equal(before) {
		t.Fatalf("stalls %v (%d), want one from %v", spans, n, before)
	}
}

// TestReadArrival: a read that waited through a stall counts it only if
// it returned within MinStall of the stall's end (or of when it began
// waiting, when that was later): input read later came after the stall.
func TestReadArrival(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d := manual(t, clk)
	d.Beat()
	before := clk.Now()
	prev := before.Add(-10 * time.Second) // the connection's last read; waiting since
	clk.advance(15 * time.Second)         // SIGSTOP ... SIGCONT
	resumed := clk.advance(time.Millisecond)
	if got := d.ReadArrival(prev, prev, resumed); !got.Equal(before) {
		t.Fatalf("read at the resume, before the detector noticed: ReadArrival = %v, want the stall's start %v", got, before)
	}
	end := clk.advance(4 * time.Millisecond)
	d.Beat()
	if got := d.ReadArrival(prev, prev, resumed); !got.Equal(before) {
		t.Fatalf("read at the resume: ReadArrival = %v, want %v", got, before)
	}
	beat := func(n int) {
		for range n {
			clk.advance(50 * time.Millisecond)
			d.Beat()
		}
	}
	beat(90) // 4.5s after the stall's end: a process catching up may read this late
	if read := clk.Now(); !d.ReadArrival(prev, prev, read).Equal(before) {
		t.Fatalf("read within ReadSlack of the stall's end: ReadArrival = %v, want %v", d.ReadArrival(prev, prev, read), before)
	}
	beat(20) // 5.5s after
	if read := clk.Now(); !d.ReadArrival(prev, prev, read).Equal(read) {
		t.Fatalf("an idle connection read 5.5s after the stall: ReadArrival = %v, want the read %v", d.ReadArrival(prev, prev, read), read)
	}
	// A connection busy (not reading) until 2s after the stall: its
	// first read then may return what waited since the stall, and a read
	// that returns a second after it began waiting did not.
	wait := end.Add(2 * time.Second)
	if got := d.ReadArrival(prev, wait, wait.Add(time.Millisecond)); !got.Equal(before) {
		t.Fatalf("busy connection's prompt read: ReadArrival = %v, want %v", got, before)
	}
	if read := wait.Add(time.Second); !d.ReadArrival(prev, wait, read).Equal(read) {
		t.Fatalf("busy connection's late read: ReadArrival = %v, want the read %v", d.ReadArrival(prev, wait, read), read)
	}
	beat(100)

	// Two stalls 300ms apart, a read just after the second: the first
	// counts too (the process may have been too starved to read).
	beat(200)
	first := clk.Now()
	clk.advance(time.Second)
	d.Beat()
	beat(6)
	second := clk.Now()
	clk.advance(time.Second)
	read := clk.advance(time.Millisecond)
	d.Beat()
	since := first.Add(-time.Second)
	if got := d.ReadArrival(since, since, read); !got.Equal(first) {
		t.Fatalf("chained stalls: ReadArrival = %v, want the first stall's start %v (the second began at %v)", got, first, second)
	}
	if got := d.ReadArrival(second.Add(-time.Millisecond), second.Add(-time.Millisecond), read); !got.Equal(second) {
		t.Fatalf("read waiting since between the stalls: ReadArrival = %v, want the second's start %v", got, second)
	}
	var nilDetector *Detector
	if got := nilDetector.ReadArrival(since, since, read); !got.Equal(read) {
		t.Fatalf("nil detector: ReadArrival = %v, want the read", got)
	}
}

func TestStallsKeepTheLatest(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d := manual(t, clk)
	for range 12 {
		clk.advance(time.Second)
		d.Beat()
	}
	spans, n := d.Stalls()
	if n != 12 || len(spans) != 8 {
		t.Fatalf("%d stalls remembered of %d, want 8 of 12", len(spans), n)
	}
}

func TestNilDetector(t *testing.T) {
	var d *Detector
	now := time.Now()
	if got := d.Arrival(time.Time{}, now); !got.Equal(now) {
		t.Fatalf("nil detector Arrival = %v", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDetectsARealStall runs the real loop and starves it by holding its
// lock: the goroutine cannot record a beat meanwhile, exactly as if the
// process had not run.
func TestDetectsARealStall(t *testing.T) {
	d, err := Start(Config{Tick: 5 * time.Millisecond, MinStall: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.mu.Lock()
	time.Sleep(300 * time.Millisecond)
	d.mu.beat = time.Now().Add(-300 * time.Millisecond) // as the last wake before the stop
	d.mu.Unlock()
	await.T(t, 5*time.Second, "a stall recorded", func() bool {
		_, n := d.Stalls()
		return n > 0
	})
}

func TestConfigValidate(t *testing.T) {
	if _, err := Start(Config{Tick: time.Second, MinStall: time.Millisecond}); err == nil {
		t.Fatal("MinStall below Tick accepted")
	}
}
