package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
)

// op indexes the three commands the generator issues.
type op int

const (
	opGet op = iota
	opSet
	opDel
	numOps
)

var opNames = [numOps]string{"get", "set", "del"}

// Run drives load against cfg.Addr until cfg.Ops commands have completed or
// cfg.Duration has passed, then returns the measured Result. Cancelling ctx
// stops the run early; the partial Result is returned with ctx's error.
//
// Each of cfg.Conns goroutines owns one connection and sends batches of
// cfg.Pipeline commands, waiting for each batch's replies before the next
// (closed loop), so throughput is bounded by round trips, as with
// redis-benchmark -P.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	client := redis.NewClient(&redis.Options{
		Addr:            cfg.Addr,
		Password:        cfg.Password,
		Protocol:        2, // plain RESP2: no HELLO round trip the server may not know
		DisableIdentity: true,
		MaxRetries:      -1, // a retried command would hide an error we must count
		PoolSize:        cfg.Conns,
		DialTimeout:     cfg.Timeout,
		ReadTimeout:     cfg.Timeout,
		WriteTimeout:    cfg.Timeout,
	})
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		return Result{}, fmt.Errorf("bench: ping %s: %w", cfg.Addr, err)
	}

	value := make([]byte, cfg.ValueSize)
	fill := rand.New(rand.NewPCG(cfg.Seed, 0))
	for i := range value {
		value[i] = 'a' + byte(fill.IntN(26))
	}

	var (
		done    atomic.Int64 // commands completed, for the progress bar
		budget  atomic.Int64 // commands not yet claimed when cfg.Ops > 0
		seq     atomic.Int64 // next key for DistSequential
		wg      sync.WaitGroup
		workers = make([]*worker, cfg.Conns)
	)
	budget.Store(cfg.Ops)
	for i := range workers {
		workers[i] = newWorker(cfg, i, value, &seq)
	}
	bar := startProgress(cfg.Progress, cfg.Ops, cfg.Duration, &done)
	defer bar.close()

	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, client, func() int {
				if cfg.Ops > 0 {
					return claim(&budget, cfg.Pipeline)
				}
				if time.Now().After(deadline) {
					return 0
				}
				return cfg.Pipeline
			}, &done)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bar.close()
	return summarize(cfg, workers, elapsed), ctx.Err()
}

// claim takes up to want commands from budget and returns how many it got.
func claim(budget *atomic.Int64, want int) int {
	after := budget.Add(-int64(want))
	if after >= 0 {
		return want
	}
	if got := int64(want) + after; got > 0 {
		return int(got)
	}
	return 0
}

// worker is one connection's closed loop. Its counters are written only by
// its own goroutine and read by Run after wg.Wait, so they need no locks.
type worker struct {
	cfg    Config
	rng    *rand.Rand
	keys   keyChooser
	value  []byte
	keyBuf []byte
	kinds  []op
	hist   [numOps]*hdrhistogram.Histogram
	ops    [numOps]int64
	errs   [numOps]int64
	misses int64
	first  error
}

func newWorker(cfg Config, id int, value []byte, seq *atomic.Int64) *worker {
	// Stream id+1: stream 0 seeds the value bytes.
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(id)+1))
	w := &worker{cfg: cfg, rng: rng, value: value}
	n := int64(cfg.Keys)
	switch cfg.Dist {
	case DistZipfian:
		w.keys = NewZipf(rng, n, cfg.ZipfS)
	case DistSequential:
		w.keys = seqKeys{seq: seq, n: n}
	default:
		w.keys = uniformKeys{r: rng, n: n}
	}
	for i := range w.hist {
		w.hist[i] = newHist()
	}
	return w
}

type seqKeys struct {
	seq *atomic.Int64
	n   int64
}

func (s seqKeys) next() int64 { return (s.seq.Add(1) - 1) % s.n }

func (w *worker) pick() op {
	m := w.cfg.Mix
	x := w.rng.Float64() * (m.Get + m.Set + m.Del)
	switch {
	case x < m.Get:
		return opGet
	case x < m.Get+m.Set:
		return opSet
	default:
		return opDel
	}
}

// loop sends batches until next returns 0 or ctx ends.
func (w *worker) loop(ctx context.Context, c *redis.Client, next func() int, done *atomic.Int64) {
	for ctx.Err() == nil {
		n := next()
		if n == 0 {
			return
		}
		pipe := c.Pipeline()
		w.kinds = w.kinds[:0]
		for range n {
			k := w.pick()
			w.keyBuf = appendKey(w.keyBuf[:0], w.keys.next())
			key := string(w.keyBuf)
			switch k {
			case opGet:
				pipe.Get(ctx, key)
			case opSet:
				pipe.Set(ctx, key, w.value, w.cfg.TTL)
			case opDel:
				pipe.Del(ctx, key)
			}
			w.kinds = append(w.kinds, k)
		}
		start := time.Now()
		cmds, _ := pipe.Exec(ctx)
		us := time.Since(start).Microseconds()
		if ctx.Err() != nil {
			return // cut short by the caller: neither a sample nor an error
		}
		for i, cmd := range cmds {
			w.record(w.kinds[i], us, cmd.Err())
		}
		done.Add(int64(n))
	}
}

func (w *worker) record(k op, us int64, err error) {
	w.ops[k]++
	_ = w.hist[k].RecordValue(max(us, histMinUs))
	switch {
	case err == nil:
	case errors.Is(err, redis.Nil):
		w.misses++
	default:
		w.errs[k]++
		if w.first == nil {
			w.first = err
		}
	}
}

func summarize(cfg Config, ws []*worker, elapsed time.Duration) Result {
	r := Result{
		Addr: cfg.Addr, Mix: cfg.Mix.String(), Dist: cfg.Dist, Keys: cfg.Keys,
		Conns: cfg.Conns, Pipeline: cfg.Pipeline, ValueSize: cfg.ValueSize,
		Elapsed: elapsed, ElapsedSec: elapsed.Seconds(), PerOp: map[string]OpResult{},
	}
	secs := max(elapsed.Seconds(), 1e-9)
	all := newHist()
	for k := range numOps {
		h := newHist()
		var o OpResult
		for _, w := range ws {
			h.Merge(w.hist[k])
			o.Ops += w.ops[k]
			o.Errors += w.errs[k]
			if k == opGet {
				o.Misses += w.misses
			}
		}
		if o.Ops == 0 {
			continue
		}
		o.OpsPerSec = float64(o.Ops) / secs
		o.Latency = latencyOf(h)
		all.Merge(h)
		r.PerOp[opNames[k]] = o
		r.Ops += o.Ops
		r.Errors += o.Errors
	}
	for _, w := range ws {
		if w.first != nil {
			r.FirstError = w.first.Error()
			break
		}
	}
	r.OpsPerSec = float64(r.Ops) / secs
	r.Latency = latencyOf(all)
	return r
}
