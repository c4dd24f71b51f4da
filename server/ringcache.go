package server

import (
	"strconv"
	"strings"
)

// RINGCACHE: the operator's view of the cluster through any Redis client.
// NODES, OWNERS and LOCALGET read the store's ClusterView; CONSISTENCY
// (consistency.go) sets the connection's consistency levels.

// clusterView returns the store's ClusterView, or the error reply for a
// store without one, naming the subcommand that needed it.
func (x *call) clusterView() (ClusterView, error) {
	if x.s.view == nil {
		return nil, newReplyError("ERR RINGCACHE " + strings.ToUpper(x.cmd.shortName()) +
			" is not available on this store")
	}
	return x.s.view, nil
}

// cmdRingcacheNodes answers RINGCACHE NODES: one [id, client address,
// state, vnodes, share, role] array per member, share with 4 decimals:
// state is the liveness gossip reports, role the node's place in the
// layout.
func cmdRingcacheNodes(x *call) error {
	view, err := x.clusterView()
	if err != nil {
		return err
	}
	nodes := view.Nodes()
	x.conn.WriteArray(len(nodes))
	for _, n := range nodes {
		x.conn.WriteArray(6)
		x.conn.WriteBulkString(n.ID)
		x.conn.WriteBulkString(n.ClientAddr)
		x.conn.WriteBulkString(n.State)
		x.conn.WriteInt(n.VNodes)
		x.conn.WriteBulkString(formatShare(n.Share))
		role := n.Role
		if role == "" {
			role = "normal"
		}
		x.conn.WriteBulkString(role)
	}
	return nil
}

// formatShare renders a ring share as RINGCACHE NODES shows it: "0.3333".
func formatShare(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

// cmdRingcacheOwners answers RINGCACHE OWNERS <key>: the key's preference
// list, node ids in order.
func cmdRingcacheOwners(x *call) error {
	view, err := x.clusterView()
	if err != nil {
		return err
	}
	owners := view.Owners(appendDBKey(nil, x.c.db, x.args[2]))
	x.conn.WriteArray(len(owners))
	for _, id := range owners {
		x.conn.WriteBulkString(id)
	}
	return nil
}

// cmdRingcacheLocalGet answers RINGCACHE LOCALGET <key> with this node's
// own record, no quorum: nil when it holds none, else [value (nil for a
// tombstone), version, expiry in Unix ms (0 = none), tombstone 0|1].
// Expired records are shown as stored: that is what an operator comparing
// replicas needs to see.
func cmdRingcacheLocalGet(x *call) error {
	view, err := x.clusterView()
	if err != nil {
		return err
	}
	rec, ok, err := view.LocalGet(x.ctx(), appendDBKey(nil, x.c.db, x.args[2]))
	if err != nil {
		return err
	}
	if !ok {
		x.conn.WriteNull()
		return nil
	}
	x.conn.WriteArray(4)
	if rec.Tombstone {
		x.conn.WriteNull()
	} else {
		x.conn.WriteBulk(rec.Value)
	}
	x.conn.WriteBulkString(rec.Version)
	x.conn.WriteInt64(rec.ExpireAt)
	tomb := 0
	if rec.Tombstone {
		tomb = 1
	}
	x.conn.WriteInt(tomb)
	return nil
}

// cmdRingcacheHints answers RINGCACHE HINTS: one [target, pending,
// bytes, oldest-age-ms, delivered, dropped] array per target node.
func cmdRingcacheHints(x *call) error {
	hv, ok := x.s.store.(HintsView)
	if !ok {
		return newReplyError("ERR RINGCACHE HINTS is not available on this store")
	}
	hints := hv.Hints()
	x.conn.WriteArray(len(hints))
	for _, h := range hints {
		x.conn.WriteArray(6)
		x.conn.WriteBulkString(h.Target)
		x.conn.WriteInt64(h.Pending)
		x.conn.WriteInt64(h.Bytes)
		x.conn.WriteInt64(h.OldestAgeMs)
		x.conn.WriteInt64(h.Delivered)
		x.conn.WriteInt64(h.Dropped)
	}
	return nil
}

// cmdRingcacheRepair answers RINGCACHE REPAIR: it runs a full
// anti-entropy round on this node and replies with its summary as
// name/value pairs.
func cmdRingcacheRepair(x *call) error {
	rp, ok := x.s.store.(Repairer)
	if !ok {
		return newReplyError("ERR RINGCACHE REPAIR is not available on this store")
	}
	sum, err := rp.Repair(x.ctx())
	if err != nil {
		return err
	}
	fields := []struct {
		name string
		v    int64
	}{
		{"ranges_compared", sum.RangesCompared},
		{"ranges_differing", sum.RangesDiffering},
		{"leaves_differing", sum.LeavesDiffering},
		{"keys_sent", sum.KeysSent},
		{"keys_received", sum.KeysReceived},
		{"bytes_sent", sum.BytesSent},
		{"bytes_received", sum.BytesReceived},
		{"peers_failed", sum.PeersFailed},
	}
	x.conn.WriteArray(2*len(fields) + 2)
	for _, f := range fields {
		x.conn.WriteBulkString(f.name)
		x.conn.WriteInt64(f.v)
	}
	x.conn.WriteBulkString("seconds")
	x.conn.WriteBulkString(strconv.FormatFloat(sum.Seconds, 'f', 3, 64))
	return nil
}

// topologyAdmin returns the store's topology operations, or the error
// a store without them answers.
func (x *call) topologyAdmin(cmd string) (TopologyAdmin, error) {
	ta, ok := x.s.store.(TopologyAdmin)
	if !ok {
		return nil, newReplyError("ERR RINGCACHE " + cmd + " is not available on this store")
	}
	return ta, nil
}

// cmdRingcacheJoin answers RINGCACHE JOIN: +OK once the join started.
func cmdRingcacheJoin(x *call) error {
	ta, err := x.topologyAdmin("JOIN")
	if err != nil {
		return err
	}
	if err := ta.Join(x.ctx()); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

// cmdRingcacheLeave answers RINGCACHE LEAVE: +OK once the layout has this
// node leaving; the node exits when its ranges have moved.
func cmdRingcacheLeave(x *call) error {
	ta, err := x.topologyAdmin("LEAVE")
	if err != nil {
		return err
	}
	if err := ta.StartLeave(x.ctx()); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

// cmdRingcacheRemove answers RINGCACHE REMOVE <node-id> [FORCE].
func cmdRingcacheRemove(x *call) error {
	ta, err := x.topologyAdmin("REMOVE")
	if err != nil {
		return err
	}
	force := false
	switch {
	case len(x.args) == 4 && equalFold(x.args[3], "force"):
		force = true
	case len(x.args) != 3:
		return errSyntax
	}
	if err := ta.Remove(x.ctx(), string(x.args[2]), force); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

// cmdRingcacheTransfers answers RINGCACHE TRANSFERS with name/value pairs.
func cmdRingcacheTransfers(x *call) error {
	ta, err := x.topologyAdmin("TRANSFERS")
	if err != nil {
		return err
	}
	fields := ta.Transfers()
	x.conn.WriteArray(2 * len(fields))
	for _, f := range fields {
		x.conn.WriteBulkString(f[0])
		x.conn.WriteBulkString(f[1])
	}
	return nil
}

func cmdRingcacheHelp(x *call) error {
	return writeHelp(x, "RINGCACHE", []string{
		"NODES", "    Return every cluster member as [id, client address, state, vnodes, share of the ring, role].",
		"OWNERS <key>", "    Return the ids of the nodes that hold <key>, in preference order.",
		"LOCALGET <key>", "    Return this node's own record of <key>, without a quorum: [value, version, expire-at-ms, tombstone].",
		"CONSISTENCY [<read> <write>|RESET]", "    Set this connection's read and write levels (ONE, QUORUM or ALL), show them, or RESET to the configured ones.",
		"HINTS", "    Return the hints this node holds per target node: [target, pending, bytes, oldest-age-ms, delivered, dropped].",
		"REPAIR", "    Run a full anti-entropy round on this node now and return its summary as name/value pairs.",
		"JOIN", "    Make this node (started with --join=false) join its seeds' cluster.",
		"LEAVE", "    Make this node leave the cluster for good: its ranges stream to their next owners, then it exits.",
		"REMOVE <node-id> [FORCE]", "    Remove a dead member: its ranges are synced to their next owners from the surviving replicas.",
		"TRANSFERS", "    Return the topology operation in progress and this node's streaming as name/value pairs.",
		"SCRIPT <sha1>", "    Return the body of a script in this node's cache, or a null (members fetch the scripts they lack).",
	})
}
