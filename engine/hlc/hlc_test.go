package hlc

import (
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

func TestClockMonotonicWhenWallStandsStill(t *testing.T) {
	fixed := time.UnixMilli(1_000)
	c := New("a", func() time.Time { return fixed })
	prev := c.Now()
	for i := 0; i < 1000; i++ {
		v := c.Now()
		if v.Compare(prev) <= 0 {
			t.Fatalf("version %v not after %v", v, prev)
		}
		if v.Wall != 1_000 {
			t.Fatalf("wall moved to %d with a frozen clock", v.Wall)
		}
		prev = v
	}
}

func TestClockWallGoesBackwards(t *testing.T) {
	ms := int64(5_000)
	c := New("a", func() time.Time { return time.UnixMilli(ms) })
	a := c.Now()
	ms = 4_000 // the physical clock steps back
	b := c.Now()
	if b.Compare(a) <= 0 {
		t.Fatalf("clock went backwards: %v then %v", a, b)
	}
	ms = 6_000
	if v := c.Now(); v.Wall != 6_000 || v.Logical != 0 {
		t.Fatalf("clock did not follow wall time forward: %+v", v)
	}
}

func TestClockObserve(t *testing.T) {
	c := New("a", func() time.Time { return time.UnixMilli(100) })
	remote := engine.Version{Wall: 9_000, Logical: 7, Node: NodeHash("b")}
	c.Observe(remote)
	if v := c.Now(); v.Compare(remote) <= 0 {
		t.Fatalf("Now() %v is not after observed %v", v, remote)
	}
	c.Observe(engine.Version{Wall: 1}) // older: no effect
	if v := c.Now(); v.Wall != 9_000 {
		t.Fatalf("observing an older version moved the clock: %+v", v)
	}
}

func TestClockLogicalWrap(t *testing.T) {
	c := New("a", func() time.Time { return time.UnixMilli(10) })
	c.Observe(engine.Version{Wall: 10, Logical: ^uint32(0)})
	v := c.Now()
	if v.Wall != 11 || v.Logical != 0 {
		t.Fatalf("wrap: got %+v, want wall 11 logical 0", v)
	}
}

func TestClockConcurrentUnique(t *testing.T) {
	c := New("a", nil)
	const workers, each = 8, 2000
	var mu sync.Mutex
	seen := make(map[engine.Version]bool, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]engine.Version, 0, each)
			for i := 0; i < each; i++ {
				local = append(local, c.Now())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range local {
				if seen[v] {
					t.Errorf("duplicate version %+v", v)
				}
				seen[v] = true
			}
		}()
	}
	wg.Wait()
}

// TestClocksOrderWritesAMicrosecondApart: two nodes whose clocks agree
// stamp writes made a microsecond apart in the order they were made,
// whichever node id would win a tie.
func TestClocksOrderWritesAMicrosecondApart(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	for _, ids := range [][2]string{{"a", "b"}, {"b", "a"}} {
		for us := range 999 {
			first := New(ids[0], func() time.Time { return base.Add(time.Duration(us) * time.Microsecond) })
			second := New(ids[1], func() time.Time { return base.Add(time.Duration(us+1) * time.Microsecond) })
			a, b := first.Now(), second.Now()
			if b.Compare(a) <= 0 {
				t.Fatalf("%s at +%dus stamped %v, %s a microsecond later %v", ids[0], us, a, ids[1], b)
			}
			if a.Wall != base.UnixMilli() {
				t.Fatalf("wall %d, want the millisecond %d", a.Wall, base.UnixMilli())
			}
		}
	}
}
