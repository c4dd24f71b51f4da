package bench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws a bar from a counter the workers bump. A single goroutine,
// owned by the progress value and ended by close, redraws it a few times a
// second so the hot path pays one atomic add and nothing else.
type progress struct {
	bar  *progressbar.ProgressBar
	done *atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

const progressEvery = 200 * time.Millisecond

// startProgress returns nil when w is nil. With ops > 0 the bar counts
// commands; otherwise it counts elapsed milliseconds of d.
func startProgress(w io.Writer, ops int64, d time.Duration, done *atomic.Int64) *progress {
	if w == nil {
		return nil
	}
	max := ops
	if max <= 0 {
		max = d.Milliseconds()
	}
	p := &progress{
		bar: progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("load"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(progressEvery),
			progressbar.OptionClearOnFinish(),
		),
		done: done,
		stop: make(chan struct{}),
	}
	start := time.Now()
	p.wg.Add(1)
	go p.loop(start, ops > 0)
	return p
}

func (p *progress) loop(start time.Time, byOps bool) {
	defer p.wg.Done()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			n := p.done.Load()
			el := time.Since(start)
			p.bar.Describe(fmt.Sprintf("load %.0f ops/s", float64(n)/el.Seconds()))
			if byOps {
				_ = p.bar.Set64(n)
			} else {
				_ = p.bar.Set64(el.Milliseconds())
			}
		}
	}
}

// close stops the redraw goroutine and clears the bar. Safe on nil and
// safe to call twice.
func (p *progress) close() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		_ = p.bar.Finish()
		_ = p.bar.Exit()
	})
}
