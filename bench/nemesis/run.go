package nemesis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Run runs cfg's scenarios in order, each on a fresh cluster, printing
// one line per scenario to cfg.Out as it ends. It returns the results,
// and an error only for what stops the whole suite: an invalid config, no
// binary, an interrupt. A scenario that could not run is an ERROR result.
func Run(ctx context.Context, cfg Config) ([]ScenarioResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log != nil {
		cfg.Log = &stampWriter{w: cfg.Log}
	}
	suite, err := os.MkdirTemp(cfg.TempDir, "ringcache-nemesis-")
	if err != nil {
		return nil, err
	}
	// Every node, the partitioned one's other user included, must reach
	// the binary and its own directory.
	if err := os.Chmod(suite, 0o755); err != nil {
		return nil, err
	}
	bin, err := nodeBinary(ctx, &cfg, suite)
	if err != nil {
		os.RemoveAll(suite)
		return nil, err
	}
	var results []ScenarioResult
	keep := cfg.Keep
	for _, name := range cfg.Scenarios {
		r := runScenario(ctx, &cfg, suite, bin, scenarios[name])
		results = append(results, r)
		logf(cfg.Out, "%s\n", r.Line())
		keep = keep || r.Dir != ""
		if ctx.Err() != nil {
			break
		}
	}
	if keep {
		logf(cfg.Log, "kept %s\n", suite)
	} else {
		os.RemoveAll(suite)
	}
	return results, ctx.Err()
}

// buildTimeout bounds go build of the node binary.
const buildTimeout = 10 * time.Minute

// nodeBinary builds the node binary into dir, or copies cfg's there.
func nodeBinary(ctx context.Context, cfg *Config, dir string) (string, error) {
	bin := filepath.Join(dir, "ringcache")
	if cfg.RingcacheBin == "" {
		logf(cfg.Log, "building ./cmd/ringcache in %s\n", cfg.SourceDir)
		ctx, cancel := context.WithTimeout(ctx, buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ringcache")
		cmd.Dir = cfg.SourceDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("nemesis: go build ./cmd/ringcache: %v\n%s", err, out)
		}
		return bin, nil
	}
	src, err := os.Open(cfg.RingcacheBin)
	if err != nil {
		return "", fmt.Errorf("nemesis: ringcache binary: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", err
	}
	return bin, dst.Close()
}

// Scenario statuses.
const (
	StatusPass  = "PASS"
	StatusFail  = "FAIL"
	StatusSkip  = "SKIP"
	StatusError = "ERROR" // the scenario could not run to its end
)

// ScenarioResult is one scenario's outcome.
type ScenarioResult struct {
	Scenario string `json:"scenario"`
	Status   string `json:"status"`
	// Reason says why a scenario was skipped or could not run.
	Reason  string  `json:"reason,omitempty"`
	Seconds float64 `json:"seconds"`
	// Victims are the nodes the fault hit.
	Victims []string `json:"victims,omitempty"`
	// FaultStart and FaultEnd bound the fault phase, in seconds from the
	// start of the workload.
	FaultStart float64 `json:"fault_start_s"`
	FaultEnd   float64 `json:"fault_end_s"`
	// Dir is the scenario's directory when it was kept (a failure, or
	// Config.Keep): data and log of every node, history.json, final.json.
	Dir string `json:"dir,omitempty"`
	// VictimKeys counts, when the fault hits several nodes, the keys of
	// the owner sample owned by all of them.
	VictimKeys int    `json:"victim_keys,omitempty"`
	Result     Result `json:"result"`
}

// ownedByAll counts the keys among replicas whose owners include every
// one of ids.
func ownedByAll(replicas map[string][]Replica, ids []string) int {
	n := 0
	for _, reps := range replicas {
		all := true
		for _, id := range ids {
			all = all && slices.ContainsFunc(reps, func(r Replica) bool { return r.Node == id })
		}
		if all {
			n++
		}
	}
	return n
}

// Failed reports whether some result is a FAIL or an ERROR.
func Failed(results []ScenarioResult) bool {
	for _, r := range results {
		if r.Status == StatusFail || r.Status == StatusError {
			return true
		}
	}
	return false
}

// runScenario runs one scenario on a fresh cluster in suite/<name>.
func runScenario(ctx context.Context, cfg *Config, suite, bin string, sc scenario) (res ScenarioResult) {
	start := time.Now()
	res.Scenario = sc.name
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	if sc.probe != nil {
		if why := sc.probe(ctx); why != "" {
			res.Status, res.Reason = StatusSkip, why
			return res
		}
	}
	logf(cfg.Log, "nemesis %s: starting %d nodes\n", sc.name, cfg.Nodes)
	dir := filepath.Join(suite, sc.name)
	fail := func(err error) ScenarioResult {
		res.Status, res.Reason, res.Dir = StatusError, err.Error(), dir
		if errors.Is(err, context.Canceled) {
			res.Reason = "interrupted"
		}
		return res
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fail(err)
	}
	cl, err := startCluster(ctx, cfg, dir, bin, &sc)
	if err != nil {
		return fail(err)
	}
	defer cl.close() // every process this scenario started, on every path
	f := &faultRun{sc: &sc, cfg: cfg, cl: cl, victims: sc.victims}
	res.Victims = f.victimIDs()
	h, err := drive(ctx, sc, f)
	res.FaultStart, res.FaultEnd = h.FaultStart.Seconds(), h.FaultEnd.Seconds()
	if len(sc.victims) == 0 {
		res.Victims = f.victimIDs() // chosen by the fault
	}
	if err != nil {
		writeJSON(cfg.Log, filepath.Join(dir, "history.json"), h)
		return fail(err)
	}
	for _, i := range cl.memberIndexes() {
		if n := cl.nodes[i]; !n.alive() {
			f.note("%s is not running after the heal: it exited on its own (log %s)", n.id, n.logPath)
		}
	}
	final := collectFinal(ctx, cfg, cl, h.Ops, sc.evict)
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	final.Incomplete = append(f.notes, final.Incomplete...)
	if len(sc.victims) > 1 {
		// The fault must hit keys owned by all its victims.
		res.VictimKeys = ownedByAll(final.Replicas, res.Victims)
		logf(cfg.Log, "  %d of the %d sampled keys are owned by all of %v\n", res.VictimKeys, len(final.Replicas), res.Victims)
		if res.VictimKeys == 0 {
			final.Incomplete = append(final.Incomplete, fmt.Sprintf("no sampled key is owned by all of %v", res.Victims))
		}
	}
	cl.stop(5 * time.Second)
	res.Result = Check(h, final)
	res.Status = StatusPass
	if !res.Result.Pass() {
		res.Status = StatusFail
		for _, e := range append(res.Result.Examples, res.Result.Incomplete...) {
			logf(cfg.Log, "  %s\n", e)
		}
	}
	if res.Status == StatusFail || cfg.Keep {
		res.Dir = dir
		writeJSON(cfg.Log, filepath.Join(dir, "history.json"), h)
		writeJSON(cfg.Log, filepath.Join(dir, "final.json"), final)
	} else {
		os.RemoveAll(dir)
	}
	return res
}

// drive runs the workload through the scenario's phases: warm-up, the
// fault from its injection to its heal, after. It returns what the
// clients saw, also when a phase failed.
func drive(ctx context.Context, sc scenario, f *faultRun) (History, error) {
	cfg := f.cfg
	base := time.Now()
	wcfg := cfg.Workload
	wcfg.evict = sc.evict
	wl := startWorkload(ctx, wcfg, f.cl.clientAddrs(), f.cl.members, base)
	logf(cfg.Log, "  workload: warm-up %v\n", cfg.Warmup)
	var h History
	err := sleep(ctx, cfg.Warmup)
	if err == nil {
		h.FaultStart = time.Since(base)
		err = sc.inject(ctx, f)
		h.FaultEnd = time.Since(base)
	}
	if err == nil {
		logf(cfg.Log, "  workload after the heal: %v\n", cfg.After)
		err = sleep(ctx, cfg.After)
	}
	h.Ops = wl.stop()
	logf(cfg.Log, "  workload stopped: %d operations; writes acknowledged by command: %s\n", len(h.Ops), writesByCommand(h.Ops))
	return h, err
}

// writesByCommand sums up the writes of ops per command, as
// "SET 812/830 ...": acknowledged of sent.
func writesByCommand(ops []Op) string {
	sent, acked := map[string]int{}, map[string]int{}
	for _, op := range ops {
		if !op.isWrite() {
			continue
		}
		cmd := cmp.Or(op.Cmd, string(op.Kind))
		sent[cmd]++
		if op.OK() {
			acked[cmd]++
		}
	}
	var parts []string
	for _, cmd := range slices.Sorted(maps.Keys(sent)) {
		parts = append(parts, fmt.Sprintf("%s %d/%d", cmd, acked[cmd], sent[cmd]))
	}
	return strings.Join(parts, ", ")
}

// writeJSON writes v to path, for the record of a kept scenario; a
// failure only loses that record, and is logged.
func writeJSON(log io.Writer, path string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		logf(log, "  %s: %v\n", path, err)
	}
}
