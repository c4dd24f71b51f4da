package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// scenario is one fault. inject runs it from its injection to its heal;
// it returns an error only when the scenario cannot go on (a node that
// does not restart), and notes anything that makes the checks moot.
type scenario struct {
	name string
	// victims are the indexes of the nodes the fault hits; 0 (the seed)
	// only in the rolling restart, which hits them all.
	victims []int
	// probe, if set, returns why the scenario cannot run here ("": it can).
	probe func(context.Context) string
	// runAs gives the nodes (by index) that run as another user.
	runAs map[int]int
	// spares are the nodes (by index) not started with the cluster: the
	// fault brings them in. With slowStream they stream at
	// Config.SlowStreamRate.
	spares     []int
	slowStream bool
	// evict makes the nodes evict (--maxmemory Config.EvictBudget,
	// allkeys-lru) and the checks run in the eviction mode (Final.Evict).
	evict  bool
	inject func(ctx context.Context, f *faultRun) error
}

// nodeArgs returns the flags of the scenario's nodes besides the
// addresses, the id, the seed and the data directory.
func (sc *scenario) nodeArgs(cfg *Config, spare bool) []string {
	args := slices.Clone(cfg.NodeArgs)
	if spare && sc.slowStream {
		args = append(args, "--stream-rate", cfg.SlowStreamRate)
	}
	if sc.evict {
		args = append(args, "--maxmemory", strconv.FormatInt(cfg.EvictBudget(), 10), "--maxmemory-policy", "allkeys-lru")
	}
	return args
}

// faultRun is what a fault works with.
type faultRun struct {
	sc      *scenario
	cfg     *Config
	cl      *cluster
	victims []int
	notes   []string // see Final.Incomplete
}

func (f *faultRun) logf(format string, args ...any) { logf(f.cfg.Log, "  "+format+"\n", args...) }

func (f *faultRun) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.notes = append(f.notes, msg)
	f.logf("incomplete: %s", msg)
}

func (f *faultRun) victimIDs() []string {
	var ids []string
	for _, i := range f.victims {
		ids = append(ids, f.cl.nodes[i].id)
	}
	return ids
}

// scenarios, by name. The victims avoid node1, the others' only seed,
// except in the rolling restart.
var scenarios = map[string]scenario{
	ScenarioNone:      {name: ScenarioNone, inject: injectNothing},
	ScenarioKillOne:   {name: ScenarioKillOne, victims: []int{2}, inject: injectKill},
	ScenarioKillTwo:   {name: ScenarioKillTwo, victims: []int{1, 3}, inject: injectKill},
	ScenarioPause:     {name: ScenarioPause, victims: []int{2}, inject: injectPause},
	ScenarioRolling:   {name: ScenarioRolling, inject: injectRolling},
	ScenarioDiskLoss:  {name: ScenarioDiskLoss, victims: []int{2}, inject: injectDiskLoss},
	ScenarioPartition: {name: ScenarioPartition, victims: []int{2}, probe: probeIptables, runAs: map[int]int{2: partitionUID}, inject: injectPartition},
	// The membership scenarios (lifecycle.go).
	ScenarioJoin:       {name: ScenarioJoin, victims: []int{4}, spares: []int{4}, inject: injectJoin},
	ScenarioJoinTwo:    {name: ScenarioJoinTwo, victims: []int{3, 4}, spares: []int{3, 4}, inject: injectJoin},
	ScenarioJoinDown:   {name: ScenarioJoinDown, victims: []int{2}, spares: []int{4}, inject: injectJoinDown},
	ScenarioLeave:      {name: ScenarioLeave, victims: []int{3}, inject: injectLeave},
	ScenarioRemove:     {name: ScenarioRemove, victims: []int{3}, inject: injectRemove},
	ScenarioKillSource: {name: ScenarioKillSource, spares: []int{4}, slowStream: true, inject: injectKillSource},
	ScenarioKillDest:   {name: ScenarioKillDest, victims: []int{4}, spares: []int{4}, slowStream: true, inject: injectKillDest},
	ScenarioKillDriver: {name: ScenarioKillDriver, spares: []int{4}, slowStream: true, inject: injectKillDriver},
	ScenarioPartitionOp: {name: ScenarioPartitionOp, victims: []int{2}, spares: []int{4}, probe: probeIptables,
		runAs: map[int]int{2: partitionUID}, inject: injectPartitionOp},
	// kill9-one's fault on evicting nodes: the evictions of the keys
	// node3 owns travel to it as hints while it is down.
	ScenarioEvict: {name: ScenarioEvict, victims: []int{2}, evict: true, inject: injectKill},
}

// injectNothing leaves an empty fault phase as long as an outage.
func injectNothing(ctx context.Context, f *faultRun) error {
	f.logf("no fault for %v", f.cfg.Outage)
	return sleep(ctx, f.cfg.Outage)
}

// injectKill SIGKILLs the victims, waits, and restarts them on their data.
func injectKill(ctx context.Context, f *faultRun) error {
	f.logf("SIGKILL %v for %v", f.victimIDs(), f.cfg.Outage)
	for _, i := range f.victims {
		f.cl.nodes[i].kill()
	}
	if err := sleep(ctx, f.cfg.Outage); err != nil {
		return err
	}
	return f.restartVictims(ctx)
}

func (f *faultRun) restartVictims(ctx context.Context) error {
	var errs []error
	for _, i := range f.victims {
		errs = append(errs, f.cl.nodes[i].start(ctx, f.cfg.StartTimeout))
	}
	f.logf("restarted %v", f.victimIDs())
	return errors.Join(errs...)
}

// injectDiskLoss SIGKILLs the victim, removes its data directory, waits,
// and starts it empty as the replacement of the lost member (a new id,
// --replace the old one): an empty node under the old id is refused, as
// it must be.
func injectDiskLoss(ctx context.Context, f *faultRun) error {
	f.logf("SIGKILL %v, data removed, for %v", f.victimIDs(), f.cfg.Outage)
	for _, i := range f.victims {
		f.cl.nodes[i].kill()
		if err := f.cl.nodes[i].wipe(); err != nil {
			return err
		}
	}
	if err := sleep(ctx, f.cfg.Outage); err != nil {
		return err
	}
	for _, i := range f.victims {
		n := f.cl.nodes[i]
		old := n.id
		n.replaceAs(old + "r")
		f.logf("%s starts empty as %s, replacing %s", old, n.id, old)
	}
	return f.restartVictims(ctx)
}

// injectPause SIGSTOPs the victim and SIGCONTs it after the outage.
func injectPause(ctx context.Context, f *faultRun) error {
	f.logf("SIGSTOP %v for %v", f.victimIDs(), f.cfg.Outage)
	for _, i := range f.victims {
		if err := f.cl.nodes[i].signal(syscall.SIGSTOP); err != nil {
			return err
		}
	}
	err := sleep(ctx, f.cfg.Outage)
	for _, i := range f.victims {
		err = errors.Join(err, f.cl.nodes[i].signal(syscall.SIGCONT))
	}
	f.logf("SIGCONT %v", f.victimIDs())
	return err
}

// injectRolling restarts every node in turn: SIGTERM, wait for the exit,
// restart, wait until every node sees every node alive.
func injectRolling(ctx context.Context, f *faultRun) error {
	for _, n := range f.cl.nodes {
		start := time.Now()
		clean, err := n.terminate(f.cfg.StopTimeout)
		switch {
		case err != nil:
			f.logf("%s: %v", n.id, err)
		case !clean:
			f.logf("%s exited with an error status after SIGTERM", n.id)
		}
		stopped := time.Since(start)
		if err := n.start(ctx, f.cfg.StartTimeout); err != nil {
			return err
		}
		if err := f.cl.waitJoined(ctx, f.cfg.JoinTimeout); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.note("rolling restart: after %s came back: %v", n.id, err)
		}
		f.logf("%s restarted: stopped in %.1fs, back and seen alive by all after %.1fs", n.id,
			stopped.Seconds(), time.Since(start).Seconds())
	}
	return nil
}

// injectPartition cuts the victim's cluster and gossip ports off from the
// other nodes, checks that the others see it go, and heals. The rules
// are removed on every path, an interrupt included.
func injectPartition(ctx context.Context, f *faultRun) (err error) {
	i := f.victims[0]
	p, err := newPartition(f.cl, i, newTag())
	if err != nil {
		return err
	}
	defer func() {
		if rerr := p.remove(context.WithoutCancel(ctx)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the partition's rules (tag %s): %w", p.tag, rerr))
		}
		f.logf("partition healed")
	}()
	f.logf("partition of %s for %v (iptables, tag %s)", f.cl.nodes[i].id, f.cfg.Partition, p.tag)
	if err := p.apply(ctx); err != nil {
		return err
	}
	end := time.Now().Add(f.cfg.Partition)
	// The partition must take effect: some other node stops seeing the
	// victim alive. Otherwise the scenario tested nothing.
	if err := f.awaitDown(ctx, i, f.cfg.Partition); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.note("the partition had no effect: %v", err)
	}
	return sleep(ctx, time.Until(end))
}
