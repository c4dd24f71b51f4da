package membership

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The roster is the member list as it is persisted: who is part of the
// cluster, where to reach them, and whether they left for good. Liveness
// is not part of it: a node that restarts does not know who is up, and
// learns it from gossip.

// RosterStore is where a Membership persists its member list. The
// engine's user metadata implements it.
type RosterStore interface {
	GetMeta(name string) ([]byte, bool, error)
	PutMeta(name string, val []byte) error
}

// rosterMetaName is the metadata name the roster is stored under.
const rosterMetaName = "membership/roster"

// rosterVersion1 is the first byte of an encoded roster. A reader refuses
// other versions.
const rosterVersion1 = 1

// rosterLeft flags a member that left for good.
const rosterLeft = 1

// LoadRoster returns the members persisted in store by an earlier run
// (Config.Store), sorted by id: Left for those that left for good, Dead
// for every other (liveness is not persisted), with NodeState NodeLeaving
// or NodeNormal to match. It returns nil and no error when nothing was
// persisted, and an error wrapping ErrBadRoster when the value does not
// decode.
func LoadRoster(store RosterStore) ([]Member, error) {
	raw, ok, err := store.GetMeta(rosterMetaName)
	if err != nil {
		return nil, fmt.Errorf("membership: load roster: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return decodeRoster(raw)
}

// saveRoster persists ms as the roster.
func saveRoster(store RosterStore, ms []Member) error {
	raw, err := encodeRoster(ms)
	if err != nil {
		return err
	}
	if err := store.PutMeta(rosterMetaName, raw); err != nil {
		return fmt.Errorf("membership: save roster: %w", err)
	}
	return nil
}

// rosterOf returns what is persisted of a member list: every member,
// sorted by id, with its state reduced to Left or Dead and its NodeState
// to NodeLeaving or NodeNormal. Two lists with the same roster differ in
// liveness only.
func rosterOf(ms []Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		m.State, m.NodeState = Dead, NodeNormal
		if ms[i].State == Left {
			m.State, m.NodeState = Left, NodeLeaving
		}
		out[i] = m
	}
	sortMembers(out)
	return out
}

// encodeRoster lays the roster of ms out as: version byte, uvarint count,
// then per member a flags byte (rosterLeft), uvarint VNodes, and ID,
// GossipAddr, ClientAddr and ClusterAddr, each a uvarint length followed
// by its bytes.
func encodeRoster(ms []Member) ([]byte, error) {
	r := rosterOf(ms)
	buf := make([]byte, 0, 2+len(r)*64)
	buf = append(buf, rosterVersion1)
	buf = binary.AppendUvarint(buf, uint64(len(r)))
	for _, m := range r {
		if m.VNodes < 0 {
			return nil, fmt.Errorf("%w: member %s has negative vnodes", ErrBadRoster, m.ID)
		}
		var flags byte
		if m.State == Left {
			flags |= rosterLeft
		}
		buf = append(buf, flags)
		buf = binary.AppendUvarint(buf, uint64(m.VNodes))
		for _, f := range [...]string{m.ID, m.GossipAddr, m.ClientAddr, m.ClusterAddr} {
			if len(f) > maxMetaString {
				return nil, fmt.Errorf("%w: member %s: field of %d bytes (max %d)", ErrBadRoster, m.ID, len(f), maxMetaString)
			}
			buf = binary.AppendUvarint(buf, uint64(len(f)))
			buf = append(buf, f...)
		}
	}
	return buf, nil
}

// decodeRoster parses what encodeRoster wrote. It never panics; any
// truncated, out-of-range or unknown-version input, a member with an
// invalid id or vnode count, and a duplicate id yield an error wrapping
// ErrBadRoster.
func decodeRoster(b []byte) ([]Member, error) {
	if len(b) == 0 || b[0] != rosterVersion1 {
		return nil, fmt.Errorf("%w: unknown version", ErrBadRoster)
	}
	d := metaDecoder{buf: b[1:]}
	n := d.uvarint()
	// Each member takes at least 6 bytes: a count beyond that is damage,
	// and must not size an allocation.
	if d.err == nil && n > uint64(len(d.buf)/6) {
		return nil, fmt.Errorf("%w: %d members in %d bytes", ErrBadRoster, n, len(d.buf))
	}
	out := make([]Member, 0, n)
	for range n {
		flags := d.byte()
		vnodes := d.uvarint()
		m := Member{ID: d.str(), GossipAddr: d.str(), ClientAddr: d.str(), ClusterAddr: d.str()}
		if d.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRoster, d.err)
		}
		if err := validNodeID(m.ID); err != nil {
			return nil, fmt.Errorf("%w: member id: %w", ErrBadRoster, err)
		}
		if vnodes < 1 || vnodes > MaxVNodes {
			return nil, fmt.Errorf("%w: member %s: vnodes %d not in 1..%d", ErrBadRoster, m.ID, vnodes, MaxVNodes)
		}
		m.VNodes = int(vnodes)
		m.State, m.NodeState = Dead, NodeNormal
		if flags&rosterLeft != 0 {
			m.State, m.NodeState = Left, NodeLeaving
		}
		out = append(out, m)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRoster, d.err)
	}
	sortMembers(out)
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("%w: member %s listed twice", ErrBadRoster, out[i].ID)
		}
	}
	return slices.Clip(out), nil
}
