package membership

import (
	"encoding/binary"
	"fmt"
)

// A member's goodbye (its NodeLeaving metadata, then memberlist's leave
// message) is gossip like any other and may miss a node: dropped, or sent
// while that node was too busy to take it in time. That node then declares
// the member Dead when its probes fail, and memberlist ignores a later
// word that it left, since it already holds it dead. So the members that
// left travel in memberlist's periodic full-state exchange as well
// (Delegate.LocalState and MergeRemoteState): each run a node knows left
// (seen itself or told by a peer), by id and boot id, and a node that
// holds that same run Dead takes it as Left. The boot id keeps a leave
// from reaching a later run of the node: a run that restarts after its
// leave is a new member, not a left one.
//
// Boot ids are not persisted with the roster: a node that restarts before
// a peer tells it, or that was down while the member left, knows the
// member only from its roster, with no boot id, and keeps it Dead.

// leftRun is one run of a member that left: its id and boot id.
type leftRun struct {
	ID   string
	Boot uint64
}

const leftStateVersion1 = 1

// encodeLeft lays runs out as: version byte, uvarint count, then per run a
// uvarint id length, the id and a uvarint boot id.
func encodeLeft(runs []leftRun) []byte {
	buf := make([]byte, 0, 2+len(runs)*24)
	buf = append(buf, leftStateVersion1)
	buf = binary.AppendUvarint(buf, uint64(len(runs)))
	for _, r := range runs {
		buf = binary.AppendUvarint(buf, uint64(len(r.ID)))
		buf = append(buf, r.ID...)
		buf = binary.AppendUvarint(buf, r.Boot)
	}
	return buf
}

// decodeLeft reads what encodeLeft wrote. An empty buffer (a peer with
// nothing to say) is no runs; anything malformed is ErrBadMeta.
func decodeLeft(b []byte) ([]leftRun, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != leftStateVersion1 {
		return nil, fmt.Errorf("%w: left state version %d", ErrBadMeta, b[0])
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	// Every run takes at least two bytes: a bound for the count.
	if k <= 0 || n > uint64(len(b)-k)/2 {
		return nil, fmt.Errorf("%w: left state count", ErrBadMeta)
	}
	b = b[k:]
	runs := make([]leftRun, 0, min(n, 1024))
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > maxMetaString || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: left state id", ErrBadMeta)
		}
		id := string(b[k : k+int(l)])
		b = b[k+int(l):]
		boot, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("%w: left state boot", ErrBadMeta)
		}
		b = b[k:]
		runs = append(runs, leftRun{ID: id, Boot: boot})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the left state", ErrBadMeta, len(b))
	}
	return runs, nil
}
