package consensus

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// A proposal travels as the data of a normal entry: the proposal id (8
// bytes, big-endian), then, when the id is even, the proposal's deadline
// (8 bytes, Unix nanoseconds, 0 for none), then the command. Logs
// written before proposals had deadlines hold odd ids and no deadline;
// they still decode.
//
// The deadline is what keeps a proposal its proposer gave up on from
// changing the state later. A follower forwards a proposal to the leader
// as a message; a partition can hold that message up (in a TCP send
// buffer, retransmitted once the path heals) long after Propose returned
// ErrNoLeader to a caller who then takes the change for refused. The
// leader drops a forwarded proposal whose deadline passed (dropExpired)
// instead of appending it, so a proposal made on the minority side of a
// partition cannot be applied after the partition heals.

// newProposalID returns a random, even, non-zero proposal id.
func newProposalID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])&^1 | 2
}

// encodeProposal frames cmd as an entry's data.
func encodeProposal(id uint64, deadline time.Time, cmd []byte) []byte {
	var dl uint64
	if !deadline.IsZero() {
		dl = uint64(deadline.UnixNano())
	}
	data := make([]byte, 0, 16+len(cmd))
	data = binary.BigEndian.AppendUint64(data, id)
	data = binary.BigEndian.AppendUint64(data, dl)
	return append(data, cmd...)
}

// decodeProposal splits an entry's data. ok is false for data that is
// no proposal (the empty entry a new leader appends, or a truncated
// one).
func decodeProposal(data []byte) (id uint64, deadline time.Time, cmd []byte, ok bool) {
	if len(data) < 8 {
		return 0, time.Time{}, nil, false
	}
	id = binary.BigEndian.Uint64(data)
	if id&1 == 1 {
		return id, time.Time{}, data[8:], true
	}
	if len(data) < 16 {
		return 0, time.Time{}, nil, false
	}
	if dl := binary.BigEndian.Uint64(data[8:]); dl != 0 {
		deadline = time.Unix(0, int64(dl))
	}
	return id, deadline, data[16:], true
}

// dropExpired removes from a proposal message the entries whose deadline
// is more than grace (the allowance for the difference between the
// proposer's clock and this member's) before now. It reports whether an
// entry is left to step.
func dropExpired(m *pb.Message, now time.Time, grace time.Duration) bool {
	if m.GetType() != pb.MsgProp {
		return true
	}
	kept := m.Entries[:0]
	for _, e := range m.Entries {
		if e.GetType() == pb.EntryNormal {
			if _, dl, _, ok := decodeProposal(e.GetData()); ok && !dl.IsZero() && now.After(dl.Add(grace)) {
				continue
			}
		}
		kept = append(kept, e)
	}
	clear(m.Entries[len(kept):])
	m.Entries = kept
	return len(kept) > 0
}
