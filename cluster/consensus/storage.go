package consensus

import (
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/ringcache/ringcache/engine"
)

// The log on disk, under Config.Prefix:
//
//	hs            the hard state (term, vote, commit)
//	snap          the latest snapshot (the machine's state and the group)
//	e/<index>     one entry per index (16 hex digits, so names sort by
//	              index), none at or below the snapshot's index
//
// Every Ready is persisted in one atomic batch before its messages are
// sent, as raft requires; raft works on a MemoryStorage that mirrors it.

// disk reads and writes the persisted log.
type disk struct {
	store  Store
	prefix string
}

func (d disk) entryName(i uint64) string { return fmt.Sprintf("%se/%016x", d.prefix, i) }

// load fills ms with the persisted log and returns its snapshot (empty
// when there is none) and whether anything was persisted at all.
func (d disk) load(ms *raft.MemoryStorage) (*pb.Snapshot, bool, error) {
	any := false
	snap := &pb.Snapshot{}
	if raw, ok, err := d.store.GetMeta(d.prefix + "snap"); err != nil {
		return nil, false, err
	} else if ok {
		if err := proto.Unmarshal(raw, snap); err != nil {
			return nil, false, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, err)
		}
		if err := ms.ApplySnapshot(snap); err != nil {
			return nil, false, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, err)
		}
		any = true
	}
	if raw, ok, err := d.store.GetMeta(d.prefix + "hs"); err != nil {
		return nil, false, err
	} else if ok {
		hs := &pb.HardState{}
		if err := proto.Unmarshal(raw, hs); err != nil {
			return nil, false, fmt.Errorf("%w: hard state: %w", ErrCorrupt, err)
		}
		if err := ms.SetHardState(hs); err != nil {
			return nil, false, err
		}
		any = true
	}
	var ents []*pb.Entry
	var decodeErr error
	err := d.store.ScanMeta(d.prefix+"e/", func(_ string, val []byte) bool {
		e := &pb.Entry{}
		if err := proto.Unmarshal(val, e); err != nil {
			decodeErr = fmt.Errorf("%w: entry: %w", ErrCorrupt, err)
			return false
		}
		ents = append(ents, e)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, false, err
	}
	if len(ents) > 0 {
		if err := ms.Append(ents); err != nil {
			return nil, false, fmt.Errorf("%w: entries: %w", ErrCorrupt, err)
		}
		any = true
	}
	return snap, any, nil
}

// save persists what a Ready asks to: its hard state, snapshot and
// entries, in one batch. New entries replace any persisted at or after
// their first index (a new leader may overwrite an uncommitted tail).
func (d disk) save(hs *pb.HardState, snap *pb.Snapshot, ents []*pb.Entry) error {
	var b engine.MetaBatch
	if hs != nil && !raft.IsEmptyHardState(hs) {
		raw, err := proto.Marshal(hs)
		if err != nil {
			return err
		}
		b.Put(d.prefix+"hs", raw)
	}
	if snap != nil && !raft.IsEmptySnap(snap) {
		if err := d.putSnapshot(&b, snap); err != nil {
			return err
		}
	}
	if len(ents) > 0 {
		b.DeleteRange(d.entryName(ents[0].GetIndex()), d.prefix+"e0")
		for _, e := range ents {
			raw, err := proto.Marshal(e)
			if err != nil {
				return err
			}
			b.Put(d.entryName(e.GetIndex()), raw)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return d.store.CommitMeta(&b)
}

// putSnapshot adds to b the snapshot and the removal of the entries it
// covers.
func (d disk) putSnapshot(b *engine.MetaBatch, snap *pb.Snapshot) error {
	raw, err := proto.Marshal(snap)
	if err != nil {
		return err
	}
	b.Put(d.prefix+"snap", raw)
	b.DeleteRange(d.prefix+"e/", d.entryName(snap.GetMetadata().GetIndex()+1))
	return nil
}

// compact persists a snapshot taken locally.
func (d disk) compact(snap *pb.Snapshot) error {
	var b engine.MetaBatch
	if err := d.putSnapshot(&b, snap); err != nil {
		return err
	}
	return d.store.CommitMeta(&b)
}
