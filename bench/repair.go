package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// The repair benchmark measures Merkle anti-entropy between two real
// engines on disk, connected through the real replica transport on
// 127.0.0.1: what one exchange over every range of a ring costs when the
// replicas differ in a few keys (bytes on the wire against a full copy,
// time, keys moved) and when they are in sync. Then it measures what
// keeping the digest costs the write path: engine ApplyBatch throughput
// with the digest maintained and with it off (engine.Config.NoDigest),
// alternating runs and keeping the median of each.
//
// Replica A is the local side of the exchange; replica B serves
// antientropy.Service and the replica operations (apply, read) behind a
// transport.Server, as a node does. Both hold the same Keys records,
// written with the same versions; then Differences of them are made to
// differ, a third each missing on B, newer on B, and newer on A, so that
// the exchange both pushes and pulls.

// RepairConfig configures RunRepair. Start from DefaultRepairConfig.
type RepairConfig struct {
	// Keys is the number of records both replicas hold. Default 1,000,000.
	Keys int
	// Differences is the number of those keys that differ. Default 1,000.
	Differences int
	// ValueSize is every value's size in bytes. Default 100.
	ValueSize int
	// Nodes and VNodes shape the ring whose ranges the exchange compares:
	// Nodes nodes of VNodes tokens each. Defaults 3 and 128.
	Nodes, VNodes int
	// WriteKeys is the number of records one write-path run applies.
	// Default 300,000.
	WriteKeys int
	// WriteBatch is the number of records per ApplyBatch. Default 16.
	WriteBatch int
	// WriteWorkers is the number of goroutines applying batches
	// concurrently. Default 8.
	WriteWorkers int
	// WriteRuns is the number of runs with the digest on and off each
	// (alternating); the median counts. Default 3.
	WriteRuns int
	// Dir is where the engines' temporary directories go. Default "": the
	// system temporary directory. They are removed before RunRepair
	// returns.
	Dir string
	// Progress, if set, receives one line per stage.
	Progress io.Writer
}

// DefaultRepairConfig returns the defaults of every field.
func DefaultRepairConfig() RepairConfig {
	return RepairConfig{
		Keys: 1_000_000, Differences: 1000, ValueSize: 100, Nodes: 3, VNodes: 128,
		WriteKeys: 300_000, WriteBatch: 16, WriteWorkers: 8, WriteRuns: 3,
	}
}

// Validate reports the first invalid field; the error wraps
// ErrInvalidConfig.
func (c RepairConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Keys < 1:
		return bad("Keys %d must be positive", c.Keys)
	case c.Differences < 0 || c.Differences > c.Keys:
		return bad("Differences %d not in [0, Keys=%d]", c.Differences, c.Keys)
	case c.ValueSize < 0:
		return bad("ValueSize %d is negative", c.ValueSize)
	case c.Nodes < 1 || c.VNodes < 1 || c.VNodes > ring.MaxVNodes:
		return bad("Nodes %d and VNodes %d must be positive (VNodes at most %d)", c.Nodes, c.VNodes, ring.MaxVNodes)
	case c.WriteKeys < 1 || c.WriteBatch < 1 || c.WriteWorkers < 1 || c.WriteRuns < 1:
		return bad("WriteKeys %d, WriteBatch %d, WriteWorkers %d and WriteRuns %d must be positive",
			c.WriteKeys, c.WriteBatch, c.WriteWorkers, c.WriteRuns)
	}
	return nil
}

// ExchangeFigures is what one exchange did and how long it took.
type ExchangeFigures struct {
	// Seconds is the exchange's wall time.
	Seconds float64
	// RangesCompared counts the ranges compared; RangesDiffering and
	// LeavesDiffering those found differing.
	RangesCompared, RangesDiffering, LeavesDiffering int
	// KeysSent and KeysReceived count the records pushed and pulled.
	KeysSent, KeysReceived int64
	// BytesSent, BytesReceived and BytesTotal count every payload.
	BytesSent, BytesReceived, BytesTotal int64
	// FractionOfFullCopy is BytesTotal over RepairResult.FullCopyBytes.
	FractionOfFullCopy float64
}

// WriteFigures is the write-path throughput with the digest on or off.
type WriteFigures struct {
	// RecordsPerSec is the median over the runs.
	RecordsPerSec float64
	// Runs lists every run's records per second, in run order.
	Runs []float64
}

// RepairResult is RunRepair's report.
type RepairResult struct {
	Config RepairConfig `json:"-"`
	// Ranges is the number of ranges compared.
	Ranges int
	// FullCopyBytes is the size of a full copy of replica A: the sum of
	// every key and encoded record.
	FullCopyBytes int64
	// LoadSeconds is how long writing both replicas took.
	LoadSeconds float64
	// Differing is the exchange of replicas that differ; InSync the one
	// right after, with nothing left to repair.
	Differing, InSync ExchangeFigures
	// DigestOn and DigestOff are the write-path figures.
	DigestOn, DigestOff WriteFigures
	// DigestCost is 1 - on/off of the medians: the throughput the digest
	// costs (negative when the digest-on median was faster).
	DigestCost float64
}

// RunRepair runs the benchmark. Every engine, listener and connection it
// opens is closed, and every directory removed, before it returns.
func RunRepair(ctx context.Context, cfg RepairConfig) (RepairResult, error) {
	if err := cfg.Validate(); err != nil {
		return RepairResult{}, err
	}
	res := RepairResult{Config: cfg}
	if err := runExchangeBench(ctx, cfg, &res); err != nil {
		return res, err
	}
	on, off, err := runWriteBench(ctx, cfg)
	res.DigestOn, res.DigestOff = on, off
	if off.RecordsPerSec > 0 {
		res.DigestCost = 1 - on.RecordsPerSec/off.RecordsPerSec
	}
	return res, err
}

func (c RepairConfig) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// openBenchEngine opens an engine in a new directory under parent; close
// removes the directory too.
func openBenchEngine(parent, name string, noDigest bool) (e *engine.Engine, closeFn func() error, err error) {
	dir, err := os.MkdirTemp(parent, "ringcache-repair-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	ecfg := engine.DefaultConfig()
	ecfg.Dir, ecfg.NoDigest = dir, noDigest
	e, err = engine.Open(ecfg)
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	return e, func() error { return errors.Join(e.Close(), os.RemoveAll(dir)) }, nil
}

func runExchangeBench(ctx context.Context, cfg RepairConfig, res *RepairResult) (err error) {
	a, closeA, err := openBenchEngine(cfg.Dir, "a", false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeA()) }()
	b, closeB, err := openBenchEngine(cfg.Dir, "b", false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeB()) }()

	cfg.progress("loading %d keys of %d bytes into both replicas", cfg.Keys, cfg.ValueSize)
	start := time.Now()
	if res.FullCopyBytes, err = loadReplicas(ctx, cfg, a, b); err != nil {
		return err
	}
	res.LoadSeconds = time.Since(start).Seconds()

	peer, stop, err := servePeer(b)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()

	ranges := ringRanges(cfg)
	res.Ranges = len(ranges)
	cfg.progress("exchange over %d ranges with %d differing keys", len(ranges), cfg.Differences)
	if res.Differing, err = timeExchange(ctx, a, peer, ranges, res.FullCopyBytes); err != nil {
		return err
	}
	cfg.progress("exchange in sync")
	res.InSync, err = timeExchange(ctx, a, peer, ranges, res.FullCopyBytes)
	return err
}

// ringRanges returns the ranges of a ring of cfg.Nodes nodes with
// cfg.VNodes tokens each: every range of the token space once.
func ringRanges(cfg RepairConfig) []antientropy.Range {
	nodes := make([]ring.Node, cfg.Nodes)
	for i := range nodes {
		nodes[i] = ring.Node{ID: fmt.Sprintf("node%d", i+1), VNodes: cfg.VNodes}
	}
	return ring.New(nodes, cfg.VNodes).Ranges()
}

func timeExchange(ctx context.Context, a *engine.Engine, peer antientropy.Peer, ranges []antientropy.Range, full int64) (ExchangeFigures, error) {
	start := time.Now()
	r, err := antientropy.Exchange(ctx, a, peer, ranges, nil)
	f := ExchangeFigures{
		Seconds:        time.Since(start).Seconds(),
		RangesCompared: r.RangesCompared, RangesDiffering: r.RangesDiffering, LeavesDiffering: r.LeavesDiffering,
		KeysSent: r.KeysSent, KeysReceived: r.KeysReceived,
		BytesSent: r.BytesSent, BytesReceived: r.BytesReceived, BytesTotal: r.BytesSent + r.BytesReceived,
	}
	if full > 0 {
		f.FractionOfFullCopy = float64(f.BytesTotal) / float64(full)
	}
	return f, err
}

// benchKey is key i of the benchmark, the load generator's key format.
func benchKey(i int) []byte { return fmt.Appendf(nil, "key:%012d", i) }

// loadReplicas writes the same cfg.Keys records to a and b, then makes
// cfg.Differences of them differ, and returns the size of a full copy of
// a (keys plus encoded records).
func loadReplicas(ctx context.Context, cfg RepairConfig, a, b *engine.Engine) (int64, error) {
	const batch = 1000
	now := time.Now().UnixMilli()
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	// Differences are spread evenly over the key space.
	step := 0
	if cfg.Differences > 0 {
		step = cfg.Keys / cfg.Differences
	}
	diff := func(i int) (kind int, ok bool) {
		if step == 0 || i%step != 0 || i/step >= cfg.Differences {
			return 0, false
		}
		return (i / step) % 3, true
	}
	var full int64
	keys := make([][]byte, 0, batch)
	recsA := make([]engine.Record, 0, batch)
	var keysB [][]byte
	var recsB []engine.Record
	for start := 0; start < cfg.Keys; start += batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		keys, recsA, keysB, recsB = keys[:0], recsA[:0], keysB[:0], recsB[:0]
		for i := start; i < min(start+batch, cfg.Keys); i++ {
			k := benchKey(i)
			r := engine.Record{Value: value, Version: engine.Version{Wall: now - 60_000, Logical: 0, Node: 1}}
			rb := r
			kind, differs := diff(i)
			switch {
			case differs && kind == 1: // newer on B
				rb.Version.Wall = now - 30_000
			case differs && kind == 2: // newer on A
				r.Version.Wall = now - 30_000
			}
			keys, recsA = append(keys, k), append(recsA, r)
			if !differs || kind != 0 { // kind 0: missing on B
				keysB, recsB = append(keysB, k), append(recsB, rb)
			}
			full += int64(len(k) + r.EncodedLen())
		}
		if _, err := a.ApplyBatch(keys, recsA); err != nil {
			return 0, err
		}
		if _, err := b.ApplyBatch(keysB, recsB); err != nil {
			return 0, err
		}
	}
	return full, nil
}

// servePeer serves engine b's side of the exchange and its replica
// operations on a transport server on 127.0.0.1, and returns a peer that
// reaches it through a transport client, and a stop function.
func servePeer(b *engine.Engine) (antientropy.Peer, func() error, error) {
	tcfg := transport.DefaultConfig()
	srv, err := transport.NewServer(replica.NewHandler(replica.NewLocal(b, nil), nil), tcfg)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cl, err := transport.NewClient(ln.Addr().String(), tcfg)
	if err != nil {
		_ = srv.Close()
		<-served
		return nil, nil, err
	}
	stop := func() error {
		err := errors.Join(cl.Close(), srv.Close())
		if serr := <-served; !errors.Is(serr, transport.ErrClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}
	return cluster.NewExchangePeer(cl), stop, nil
}

// runWriteBench measures ApplyBatch throughput with the digest on and
// off, alternating (on, off, on, off, ...) so that drift in the machine's
// state affects both alike.
func runWriteBench(ctx context.Context, cfg RepairConfig) (on, off WriteFigures, err error) {
	for run := range cfg.WriteRuns {
		for _, noDigest := range []bool{false, true} {
			name := map[bool]string{false: "on", true: "off"}[noDigest]
			cfg.progress("write path, digest %s, run %d of %d: %d records in batches of %d from %d goroutines",
				name, run+1, cfg.WriteRuns, cfg.WriteKeys, cfg.WriteBatch, cfg.WriteWorkers)
			rate, err := writeRun(ctx, cfg, noDigest)
			if err != nil {
				return on, off, err
			}
			if noDigest {
				off.Runs = append(off.Runs, rate)
			} else {
				on.Runs = append(on.Runs, rate)
			}
		}
	}
	on.RecordsPerSec, off.RecordsPerSec = median(on.Runs), median(off.Runs)
	return on, off, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeRun applies cfg.WriteKeys new records to a fresh engine from
// cfg.WriteWorkers goroutines and returns records per second.
func writeRun(ctx context.Context, cfg RepairConfig, noDigest bool) (rate float64, err error) {
	e, closeE, err := openBenchEngine(cfg.Dir, "write", noDigest)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, closeE()) }()
	value := make([]byte, cfg.ValueSize)
	version := engine.Version{Wall: time.Now().UnixMilli(), Node: 1}
	batches := (cfg.WriteKeys + cfg.WriteBatch - 1) / cfg.WriteBatch
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, cfg.WriteWorkers)
	start := time.Now()
	for w := range cfg.WriteWorkers {
		wg.Go(func() {
			keys := make([][]byte, 0, cfg.WriteBatch)
			recs := make([]engine.Record, 0, cfg.WriteBatch)
			for {
				n := int(next.Add(1)) - 1
				if n >= batches || ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				keys, recs = keys[:0], recs[:0]
				for i := n * cfg.WriteBatch; i < min((n+1)*cfg.WriteBatch, cfg.WriteKeys); i++ {
					keys = append(keys, benchKey(i))
					recs = append(recs, engine.Record{Value: value, Version: version})
				}
				if _, err := e.ApplyBatch(keys, recs); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(cfg.WriteKeys) / elapsed.Seconds(), nil
}

// WriteText prints the result as a text table.
func (r RepairResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	c := r.Config
	ew.printf("repair: 2 engines on disk, %d keys of %d bytes, %d differing; %d ranges (%d nodes x %d vnodes); transport on 127.0.0.1\n",
		c.Keys, c.ValueSize, c.Differences, r.Ranges, c.Nodes, c.VNodes)
	ew.printf("full copy of one replica: %s (keys + encoded records); load of both replicas took %.1fs\n\n",
		formatBytes(r.FullCopyBytes), r.LoadSeconds)
	ew.printf("%-10s %9s %8s %8s %10s %10s %12s %12s %12s %10s\n",
		"exchange", "seconds", "ranges", "leaves", "keys sent", "keys recv", "bytes sent", "bytes recv", "bytes total", "of copy")
	row := func(name string, f ExchangeFigures) {
		ew.printf("%-10s %9.3f %8d %8d %10d %10d %12d %12d %12d %9.4f%%\n", name, f.Seconds, f.RangesDiffering,
			f.LeavesDiffering, f.KeysSent, f.KeysReceived, f.BytesSent, f.BytesReceived, f.BytesTotal, 100*f.FractionOfFullCopy)
	}
	row("differing", r.Differing)
	row("in sync", r.InSync)
	ew.printf("(ranges, leaves: those found differing)\n\n")
	ew.printf("write path: engine ApplyBatch, %d records in batches of %d from %d goroutines, median of %d alternating runs\n",
		c.WriteKeys, c.WriteBatch, c.WriteWorkers, c.WriteRuns)
	ew.printf("%-10s %14s   %s\n", "digest", "records/s", "runs")
	for _, x := range []struct {
		name string
		f    WriteFigures
	}{{"on", r.DigestOn}, {"off", r.DigestOff}} {
		runs := ""
		for i, v := range x.f.Runs {
			if i > 0 {
				runs += " "
			}
			runs += fmt.Sprintf("%.0f", v)
		}
		ew.printf("%-10s %14.0f   %s\n", x.name, x.f.RecordsPerSec, runs)
	}
	ew.printf("digest cost: %.1f%% of write throughput\n", 100*r.DigestCost)
	return ew.err
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}
