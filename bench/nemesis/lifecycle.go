package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench"
	"github.com/ringcache/ringcache/bench/await"
)

// The membership scenarios. Their fault is a topology operation, run to
// its end under the workload, or a fault that strikes in the middle of
// one. The cluster starts with Config.Nodes less the scenario's spares:
//
//	join          node5 starts empty and joins 4 nodes
//	join-two      node4 and node5 start at once and join 3 nodes: one
//	              operation at a time, so one join waits for the other
//	join-down     node3 is SIGKILLed, then node5 joins: some moved ranges
//	              have an old replica down; node3 comes back after the
//	              outage (or once the join is done, if later)
//	leave         RINGCACHE LEAVE on node4: it streams its ranges to their
//	              new owners, hands over its hints, and exits 0
//	remove        node4 is SIGKILLed for good; RINGCACHE REMOVE node4
//	              through node1 has its ranges synced from the survivors
//	kill-source   node5 joins at Config.SlowStreamRate; in the middle of
//	kill-dest     its streaming a node it streams from (neither the
//	kill-driver   driver nor the seed), node5 itself, or the layout's
//	              leader (which drives the operation) is SIGKILLed, and
//	              restarted on its data after the outage
//	partition-op  node3 is cut off; RINGCACHE REMOVE node4 FORCE through
//	              node3 must fail (a minority cannot change the topology);
//	              node5 joins through the majority meanwhile; then the
//	              partition heals
//
// Each one ends once every member reports the same layout epoch, no
// operation in progress and the role normal, and lists every node that
// left as left (bounded by Config.OpTimeout). The replacement of a dead
// node is the disk-loss scenario.

// injectJoin starts the spares, which join through their seed on their
// own, and waits until the cluster is settled.
func injectJoin(ctx context.Context, f *faultRun) error {
	spares := f.spareIDs()
	f.logf("%v start empty and join", spares)
	if err := f.startSpares(ctx); err != nil {
		return err
	}
	return f.settle(ctx, "the join of "+strings.Join(spares, ", "))
}

// injectJoinDown SIGKILLs the victim, has the spare join while it is
// down, and restarts it.
func injectJoinDown(ctx context.Context, f *faultRun) error {
	f.logf("SIGKILL %v, then %v joins", f.victimIDs(), f.spareIDs())
	for _, i := range f.victims {
		f.cl.nodes[i].kill()
	}
	back := time.Now().Add(f.cfg.Outage)
	// The join must start while the victim is down: the others see it go
	// first, so that no stage waits for it.
	if err := f.awaitDown(ctx, f.victims[0], f.cfg.JoinTimeout); err != nil {
		f.note("%v", err)
	}
	if err := f.startSpares(ctx); err != nil {
		return err
	}
	if err := f.settle(ctx, "the join with "+f.cl.nodes[f.victims[0]].id+" down"); err != nil {
		return err
	}
	if err := sleep(ctx, time.Until(back)); err != nil {
		return err
	}
	if err := f.restartVictims(ctx); err != nil {
		return err
	}
	return f.settle(ctx, "the restarted node's catch-up")
}

// injectLeave has the victim leave and waits until it exits.
func injectLeave(ctx context.Context, f *faultRun) error {
	i := f.victims[0]
	n := f.cl.nodes[i]
	f.logf("RINGCACHE LEAVE on %s", n.id)
	if err := f.command(ctx, i, "RINGCACHE", "LEAVE"); err != nil {
		return fmt.Errorf("RINGCACHE LEAVE on %s: %w", n.id, err)
	}
	p := n.running()
	// The clients keep sending to the leaving node until it is about to
	// exit: it coordinates requests through every stage.
	err := await.Poll(ctx, f.cfg.OpTimeout, 100*time.Millisecond, func() error {
		if info, err := f.cl.topologyInfo(ctx, i); err == nil && info["topology_role"] != "left" {
			return fmt.Errorf("%s is %s", n.id, info["topology_role"])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s did not leave: %w", n.id, err)
	}
	f.cl.leave(i)
	select {
	case <-p.Exited():
	case <-time.After(f.cfg.StopTimeout):
		return fmt.Errorf("%s left but did not exit within %v", n.id, f.cfg.StopTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	n.forget(p)
	if !p.Success() {
		f.note("%s exited with status %d after it left, not 0 (log %s)", n.id, p.ExitCode(), n.logPath)
	}
	f.logf("%s left and exited with status %d", n.id, p.ExitCode())
	return f.settle(ctx, "the leave of "+n.id)
}

// injectRemove SIGKILLs the victim for good and removes it through the
// first node once the others see it down.
func injectRemove(ctx context.Context, f *faultRun) error {
	i := f.victims[0]
	n := f.cl.nodes[i]
	f.logf("SIGKILL %s for good, then RINGCACHE REMOVE %s", n.id, n.id)
	n.kill()
	f.cl.leave(i)
	// REMOVE refuses a member gossip still reports alive: try until the
	// others noticed.
	var last error
	err := await.Poll(ctx, f.cfg.OpTimeout, 500*time.Millisecond, func() error {
		last = f.command(ctx, 0, "RINGCACHE", "REMOVE", n.id)
		return last
	})
	if err != nil {
		return fmt.Errorf("RINGCACHE REMOVE %s: %w (last reply: %v)", n.id, err, last)
	}
	return f.settle(ctx, "the removal of "+n.id)
}

// injectKillSource SIGKILLs, in the middle of the spare's streaming, an
// old member it streams from that neither drives the operation nor is
// the others' seed.
func injectKillSource(ctx context.Context, f *faultRun) error {
	return f.killMidStream(ctx, func(leader string) (int, error) {
		for _, i := range []int{2, 3, 1} {
			if f.cl.nodes[i].id != leader {
				return i, nil
			}
		}
		return -1, errors.New("no old member to kill")
	})
}

// injectKillDest SIGKILLs the joining node in the middle of its
// streaming; on restart it resumes from the ranges it recorded done.
func injectKillDest(ctx context.Context, f *faultRun) error {
	i := f.spares()[0]
	dest := f.cl.nodes[i]
	if err := f.killMidStream(ctx, func(string) (int, error) { return i, nil }); err != nil {
		return err
	}
	// The restarted run counted the ranges the one before had streamed.
	info, err := f.cl.topologyInfo(ctx, i)
	if err != nil {
		return err
	}
	if resumed, _ := strconv.Atoi(info["topology_last_stream_resumed_ranges"]); resumed == 0 {
		f.note("%s streamed every range again after its restart: none was recorded done before the kill", dest.id)
	} else {
		f.logf("%s resumed its streaming: %d ranges were done before the kill", dest.id, resumed)
	}
	return nil
}

// injectKillDriver SIGKILLs the layout's leader, which drives the
// operation, in the middle of the spare's streaming.
func injectKillDriver(ctx context.Context, f *faultRun) error {
	return f.killMidStream(ctx, func(leader string) (int, error) {
		if i := f.cl.index(leader); i >= 0 {
			return i, nil
		}
		return -1, fmt.Errorf("no layout leader known (%q)", leader)
	})
}

// killMidStream starts the spare's join, waits until it streams, SIGKILLs
// the node pick chooses (given the layout's leader), restarts it after
// the outage, and waits until the cluster is settled.
func (f *faultRun) killMidStream(ctx context.Context, pick func(leader string) (int, error)) error {
	dest := f.spares()[0]
	f.logf("%s starts empty and joins, streaming at %s/s", f.cl.nodes[dest].id, f.cfg.SlowStreamRate)
	if err := f.startSpares(ctx); err != nil {
		return err
	}
	if err := f.awaitStreaming(ctx, dest); err != nil {
		return err
	}
	info, err := f.cl.topologyInfo(ctx, 0)
	if err != nil {
		return err
	}
	victim, err := pick(info["topology_leader"])
	if err != nil {
		return err
	}
	f.victims = []int{victim}
	f.logf("SIGKILL %v (the layout's leader is %s) for %v", f.victimIDs(), info["topology_leader"], f.cfg.Outage)
	f.cl.nodes[victim].kill()
	if err := sleep(ctx, f.cfg.Outage); err != nil {
		return err
	}
	if err := f.restartVictims(ctx); err != nil {
		return err
	}
	return f.settle(ctx, "the join after the kill of "+f.cl.nodes[victim].id)
}

// injectPartitionOp cuts the victim off, asks it to remove another
// member (it must fail: the victim is a minority of one), has the spare
// join through the majority meanwhile, and heals.
func injectPartitionOp(ctx context.Context, f *faultRun) (err error) {
	i := f.victims[0]
	cut := f.cl.nodes[i]
	p, err := newPartition(f.cl, i, newTag())
	if err != nil {
		return err
	}
	healed := false
	heal := func() error {
		if healed {
			return nil
		}
		healed = true
		err := p.remove(context.WithoutCancel(ctx))
		if err != nil {
			err = fmt.Errorf("removing the partition's rules (tag %s): %w", p.tag, err)
		}
		f.logf("partition healed")
		return err
	}
	defer func() { err = errors.Join(err, heal()) }()
	f.logf("partition of %s (iptables, tag %s)", cut.id, p.tag)
	if err := p.apply(ctx); err != nil {
		return err
	}
	end := time.Now().Add(f.cfg.Partition)
	if err := f.awaitDown(ctx, i, f.cfg.JoinTimeout); err != nil {
		f.note("the partition had no effect: %v", err)
	}
	// The minority tries to change the topology.
	other := f.cl.nodes[3].id
	rerr := f.command(ctx, i, "RINGCACHE", "REMOVE", other, "FORCE")
	if rerr == nil {
		f.note("RINGCACHE REMOVE %s FORCE through the cut-off %s was acknowledged: a minority changed the topology", other, cut.id)
	} else {
		f.logf("RINGCACHE REMOVE %s FORCE through the cut-off %s: %v", other, cut.id, rerr)
	}
	// The majority goes on with an operation of its own.
	f.logf("%v start empty and join through the majority", f.spareIDs())
	if err := f.startSpares(ctx); err != nil {
		return err
	}
	majority := slices.DeleteFunc(f.cl.memberIndexes(), func(j int) bool { return j == i })
	if err := f.settleAmong(ctx, "the join during the partition", majority); err != nil {
		return err
	}
	if err := sleep(ctx, time.Until(end)); err != nil {
		return err
	}
	if err := heal(); err != nil {
		return err
	}
	return f.settle(ctx, "the cut-off node's catch-up")
}

// spares returns the indexes of the scenario's spares, from the config of
// the cluster: the nodes that were not members at its start.
func (f *faultRun) spares() []int { return f.sc.spares }

func (f *faultRun) spareIDs() []string {
	var ids []string
	for _, i := range f.spares() {
		ids = append(ids, f.cl.nodes[i].id)
	}
	return ids
}

// startSpares starts every spare (each joins through its seed on its
// own) and waits until each is in the layout, joining or joined, when the
// clients start sending to it. A spare that waits for another's join is
// served as soon as its own starts.
func (f *faultRun) startSpares(ctx context.Context) error {
	for _, i := range f.spares() {
		if err := f.cl.nodes[i].start(ctx, f.cfg.StartTimeout); err != nil {
			return err
		}
	}
	todo := slices.Clone(f.spares())
	return await.Poll(ctx, f.cfg.OpTimeout, 100*time.Millisecond, func() error {
		todo = slices.DeleteFunc(todo, func(i int) bool {
			info, err := f.cl.topologyInfo(ctx, i)
			if err != nil {
				return false
			}
			switch info["topology_role"] {
			case "joining", "normal":
				f.cl.join(i)
				f.logf("%s is %s at epoch %s: the clients send to it", f.cl.nodes[i].id, info["topology_role"], info["topology_epoch"])
				return true
			}
			return false
		})
		if len(todo) > 0 {
			return fmt.Errorf("%d spare(s) not in the layout yet", len(todo))
		}
		return nil
	})
}

// awaitStreaming waits until node i streams, some of its ranges done and
// some not: the middle of its streaming. It fails as soon as node i is
// normal (its streaming went by unseen).
func (f *faultRun) awaitStreaming(ctx context.Context, i int) error {
	id := f.cl.nodes[i].id
	deadline := time.Now().Add(f.cfg.OpTimeout)
	for {
		info, err := f.cl.topologyInfo(ctx, i)
		if err == nil {
			done, _ := strconv.Atoi(info["topology_ranges_done"])
			total, _ := strconv.Atoi(info["topology_ranges_total"])
			switch {
			case info["topology_stage"] == "streaming" && done > 0 && done < total:
				f.logf("%s streams: %d of %d ranges, %s keys, %s bytes", id, done, total,
					info["topology_keys_streamed"], info["topology_bytes_streamed"])
				return nil
			case info["topology_role"] == "normal":
				return fmt.Errorf("%s is normal: its streaming went by unseen (a lower SlowStreamRate makes it last longer)", id)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not in the middle of its streaming within %v (last: %v)", id, f.cfg.OpTimeout, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// awaitDown waits, up to timeout, until some other member no longer
// lists node i alive.
func (f *faultRun) awaitDown(ctx context.Context, i int, timeout time.Duration) error {
	id := f.cl.nodes[i].id
	j := slices.IndexFunc(f.cl.memberIndexes(), func(j int) bool { return j != i && f.cl.nodes[j].alive() })
	if j < 0 {
		return errors.New("no other member runs")
	}
	watcher := f.cl.memberIndexes()[j]
	return await.Poll(ctx, timeout, 200*time.Millisecond, func() error {
		rows, err := f.cl.admin[watcher].Do(ctx, "RINGCACHE", "NODES").Slice()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if row, ok := r.([]any); ok && len(row) >= 6 && row[0] == id && row[2] == "alive" {
				return fmt.Errorf("%s still lists %s alive", f.cl.nodes[watcher].id, id)
			}
		}
		return nil
	})
}

// settle waits until every member is settled (see settleAmong).
func (f *faultRun) settle(ctx context.Context, what string) error {
	return f.settleAmong(ctx, what, f.cl.memberIndexes())
}

// settleAmong waits, up to Config.OpTimeout, until the running nodes among
// idx report the same layout epoch, no operation in progress and the
// role normal, and list every node that is not a member but ran as left
// (or not at all). It logs the time it took.
func (f *faultRun) settleAmong(ctx context.Context, what string, idx []int) error {
	start := time.Now()
	var epoch string
	err := await.Poll(ctx, f.cfg.OpTimeout, 200*time.Millisecond, func() error {
		epoch = ""
		for _, i := range idx {
			n := f.cl.nodes[i]
			if !n.alive() {
				continue
			}
			info, err := f.cl.topologyInfo(ctx, i)
			switch {
			case err != nil:
				return fmt.Errorf("INFO topology on %s: %v", n.id, err)
			case info["topology_operation"] != "none":
				return fmt.Errorf("%s: %s at stage %s", n.id, info["topology_operation"], info["topology_stage"])
			case info["topology_role"] != "normal":
				return fmt.Errorf("%s is %s", n.id, info["topology_role"])
			case epoch != "" && info["topology_epoch"] != epoch:
				return fmt.Errorf("%s at epoch %s, another member at %s", n.id, info["topology_epoch"], epoch)
			}
			epoch = info["topology_epoch"]
			if err := f.listsGoneAsLeft(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s did not complete within %v: %w", what, f.cfg.OpTimeout, err)
	}
	f.logf("%s done: every member normal at epoch %s after %.1fs", what, epoch, time.Since(start).Seconds())
	return nil
}

// listsGoneAsLeft checks that node i lists the nodes that left as left.
func (f *faultRun) listsGoneAsLeft(ctx context.Context, i int) error {
	rows, err := f.cl.admin[i].Do(ctx, "RINGCACHE", "NODES").Slice()
	if err != nil {
		return fmt.Errorf("RINGCACHE NODES on %s: %v", f.cl.nodes[i].id, err)
	}
	for _, r := range rows {
		row, ok := r.([]any)
		if !ok || len(row) < 6 {
			continue
		}
		j := f.cl.index(fmt.Sprint(row[0]))
		if j >= 0 && !f.cl.isMember(j) && !slices.Contains(f.spares(), j) && row[5] != "left" {
			return fmt.Errorf("%s lists %s as %v, not left", f.cl.nodes[i].id, row[0], row[5])
		}
	}
	return nil
}

// command sends one command to node i, with Config.OpTimeout to answer.
func (f *faultRun) command(ctx context.Context, i int, args ...any) error {
	c := redis.NewClient(&redis.Options{Addr: f.cl.nodes[i].client, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, ReadTimeout: f.cfg.OpTimeout, PoolSize: 1})
	defer c.Close()
	return c.Do(ctx, args...).Err()
}

// topologyInfo returns node i's INFO topology fields.
func (c *cluster) topologyInfo(ctx context.Context, i int) (map[string]string, error) {
	s, err := c.admin[i].Info(ctx, "topology").Result()
	if err != nil {
		return nil, err
	}
	return bench.ParseInfo(s), nil
}
