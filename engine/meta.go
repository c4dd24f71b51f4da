package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// User metadata: small named values the cluster layer keeps next to the
// data (node id, ring state, repair progress), stored under
// 'm' + 'u' + name so they never collide with the engine's own 'm' keys.
// Metadata is not data: Scan, Count, the digest and DropAll ignore it.
// Writes are rare and must survive power loss, so each one is committed
// with pebble.Sync and, in the modes that defer the WAL fsync, followed by
// that fsync before it returns.

func checkMetaName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidMeta)
	}
	return nil
}

// PutMeta stores val under name, durably when it returns.
func (e *Engine) PutMeta(name string, val []byte) error {
	if err := checkMetaName(name); err != nil {
		return err
	}
	return e.writeMeta(func(b *pebble.Batch) error {
		return b.Set(appendMetaKey(nil, name), val, nil)
	})
}

// DeleteMeta deletes name (a no-op if absent), durably when it returns.
func (e *Engine) DeleteMeta(name string) error {
	if err := checkMetaName(name); err != nil {
		return err
	}
	return e.writeMeta(func(b *pebble.Batch) error {
		return b.Delete(appendMetaKey(nil, name), nil)
	})
}

func (e *Engine) writeMeta(op func(b *pebble.Batch) error) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if err := e.Err(); err != nil {
		return err
	}
	b := e.db.NewBatch()
	if err := op(b); err != nil {
		_ = b.Close()
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := e.commit(b, pebble.Sync); err != nil {
		return err
	}
	if e.fs.deferSync {
		// pebble.Sync only reached the OS (walguard.go); fsync now.
		return e.syncWAL()
	}
	return nil
}

// GetMeta returns a copy of the value stored under name and whether it
// exists.
func (e *Engine) GetMeta(name string) ([]byte, bool, error) {
	if err := checkMetaName(name); err != nil {
		return nil, false, err
	}
	if err := e.enter(); err != nil {
		return nil, false, err
	}
	defer e.leave()
	raw, closer, err := e.db.Get(appendMetaKey(nil, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("engine: read meta %q: %w", name, err)
	}
	defer closer.Close()
	return bytes.Clone(raw), true, nil
}

// ScanMeta calls fn for every name starting with prefix, in sorted order;
// val aliases iterator memory and is valid only during the call. fn
// returns false to stop.
func (e *Engine) ScanMeta(prefix string, fn func(name string, val []byte) bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	lower := appendMetaKey(nil, prefix)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("engine: scan meta: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[2:]), it.Value()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: scan meta: %w", err)
	}
	return nil
}

// MetaBatch is a set of metadata changes committed together by
// CommitMeta: all of them or none survive a crash. The zero value is an
// empty batch.
type MetaBatch struct {
	ops []metaOp
}

type metaOp struct {
	name, end string // end is set for a range deletion
	val       []byte
	del       bool
}

// Put stores val under name when the batch commits.
func (b *MetaBatch) Put(name string, val []byte) {
	b.ops = append(b.ops, metaOp{name: name, val: val})
}

// Delete deletes name when the batch commits.
func (b *MetaBatch) Delete(name string) {
	b.ops = append(b.ops, metaOp{name: name, del: true})
}

// DeleteRange deletes every name in [from, to) when the batch commits.
func (b *MetaBatch) DeleteRange(from, to string) {
	b.ops = append(b.ops, metaOp{name: from, end: to, del: true})
}

// Len returns the number of changes in the batch.
func (b *MetaBatch) Len() int { return len(b.ops) }

// CommitMeta commits b's changes in one write, durably when it returns.
func (e *Engine) CommitMeta(b *MetaBatch) error {
	for _, op := range b.ops {
		if err := checkMetaName(op.name); err != nil {
			return err
		}
		if op.end != "" && op.end <= op.name {
			return fmt.Errorf("%w: empty range [%q, %q)", ErrInvalidMeta, op.name, op.end)
		}
	}
	return e.writeMeta(func(pb *pebble.Batch) error {
		for _, op := range b.ops {
			var err error
			switch {
			case op.end != "":
				err = pb.DeleteRange(appendMetaKey(nil, op.name), appendMetaKey(nil, op.end), nil)
			case op.del:
				err = pb.Delete(appendMetaKey(nil, op.name), nil)
			default:
				err = pb.Set(appendMetaKey(nil, op.name), op.val, nil)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
