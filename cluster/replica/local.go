package replica

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// Local is the local node as a Replica: it calls the engine
// directly, with no network and no copy of the batch.
type Local struct {
	eng *engine.Engine
	now func() time.Time
	// hints keeps hinted writes and answers reads with them; nil when
	// hinted handoff is off.
	hints LocalHints
	// notes records keys an owner wrote while a fellow owner was
	// replaced; nil: not recorded.
	notes Noter
	// catching reports whether this node is still catching up (its read
	// answers are Behind); nil: never.
	catching Catching
	// epoch is the layout epoch this node knows; nil: none is checked.
	epoch Epochs
}

// Epochs tells the layout epoch a node knows (topology.Current).
type Epochs interface {
	Epoch() uint64
}

// Catching tells whether a node is still catching up on writes it missed.
type Catching interface {
	Behind() bool
	// HintsFrom records that holder is delivering hints to this node.
	HintsFrom(holder string)
	// Asked records that peer asked this node what it holds for it: the
	// peer runs, whatever gossip says yet.
	Asked(peer string)
}

// SetEpoch installs the source of the layout epoch this replica knows:
// coordinator requests planned with an older one are refused
// (ErrStaleEpoch). Call it before the replica serves requests.
func (l *Local) SetEpoch(epoch Epochs) { l.epoch = epoch }

// stale returns ErrStaleEpoch, with both epochs, for a request planned
// with an epoch older than this replica's.
func (l *Local) stale(e uint64) error {
	if e == 0 || l.epoch == nil {
		return nil
	}
	if mine := l.epoch.Epoch(); e < mine {
		return fmt.Errorf("%w: %d, this replica is at %d", ErrStaleEpoch, e, mine)
	}
	return nil
}

// SetCatching installs the catch-up state reads report. Call it before
// the replica serves requests.
func (l *Local) SetCatching(c Catching) { l.catching = c }

func (l *Local) behind() bool { return l.catching != nil && l.catching.Behind() }

func (l *Local) asked(peer string) {
	if l.catching != nil {
		l.catching.Asked(peer)
	}
}

func (l *Local) hintsFrom(holder string) {
	if l.catching != nil {
		l.catching.HintsFrom(holder)
	}
}

// LocalHints is the node's hint store as the local replica uses it
// (handoff.Manager implements it).
type LocalHints interface {
	// HoldNewer keeps records as hints for target and reports those
	// that lost to a newer hint held for it (nil: none).
	HoldNewer(target string, keys [][]byte, recs []engine.Record) ([]engine.Version, error)
	// Merge folds held hints into read results where they are newer.
	Merge(keys [][]byte, recs []engine.Record, found []bool) error
}

// Noter records the token ranges of keys for anti-entropy to check first.
type Noter interface {
	Note(keys [][]byte)
}

// SetHandoff installs the hint store and the noter (either may be nil).
// Call it before the replica serves requests.
func (l *Local) SetHandoff(h LocalHints, n Noter) {
	l.hints, l.notes = h, n
}

// NewLocal returns the replica backed by eng. now decides expiry
// for Count (nil: time.Now).
func NewLocal(eng *engine.Engine, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{eng: eng, now: now}
}

// Engine returns the engine behind the replica.
func (l *Local) Engine() *engine.Engine { return l.eng }

// Apply implements Replica: a plain write is one engine batch; hints are
// kept for their owner (and answer reads), not stored as this node's own
// data; hints handed over are a plain write from a holder; a noted write
// also notes its keys.
func (l *Local) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.stale(req.Epoch); err != nil {
		return nil, err
	}
	if req.Hint != "" {
		return l.hold(req.Hint, req.Keys, req.Recs)
	}
	if req.From != "" {
		l.hintsFrom(req.From)
	}
	newer, err := l.apply(req.Keys, req.Recs)
	if err != nil {
		return nil, err
	}
	if req.Noted && l.notes != nil {
		l.notes.Note(req.Keys)
	}
	return newer, nil
}

// hold keeps records as hints for target.
func (l *Local) hold(target string, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	if l.hints == nil {
		return nil, fmt.Errorf("%w: hinted handoff is off on this node", ErrNoHints)
	}
	newer, err := l.hints.HoldNewer(target, keys, recs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoHints, err)
	}
	return newer, nil
}

// apply stores records in one engine batch.
func (l *Local) apply(keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	// Records almost never lose to a newer stored version: the usual
	// small batch needs no allocation for the answer.
	var buf [8]engine.Version
	var newer []engine.Version
	if len(keys) <= len(buf) {
		newer = buf[:len(keys)]
	} else {
		newer = make([]engine.Version, len(keys))
	}
	if _, err := l.eng.ApplyBatchNewer(keys, recs, newer); err != nil {
		return nil, err
	}
	return nonZero(newer), nil
}

// nonZero returns a copy of vs, or nil when every version in it is zero:
// the form of Replica.Apply's newer.
func nonZero(vs []engine.Version) []engine.Version {
	for _, v := range vs {
		if !v.IsZero() {
			return slices.Clone(vs)
		}
	}
	return nil
}

// Read implements Replica with one engine batch lookup, hints held for
// other owners merged in where newer; as a stand-in (req.Hint) it
// answers from the hints it holds alone: for any of a key's owners, not
// only req.Hint, since which owner a stand-in took a write for depends on
// which owner's call failed first. Its own data is not read then: as a
// stand-in it has none that counts. With hinted handoff off this node
// holds no hints.
func (l *Local) Read(ctx context.Context, req ReadRequest) (ReadReply, error) {
	if err := ctx.Err(); err != nil {
		return ReadReply{}, err
	}
	if err := l.stale(req.Epoch); err != nil {
		return ReadReply{}, err
	}
	keys := req.Keys
	r := ReadReply{Recs: make([]engine.Record, len(keys)), Found: make([]bool, len(keys))}
	if req.Hint == "" {
		r.Behind = l.behind()
		if err := l.eng.LookupBatch(keys, r.Recs, r.Found); err != nil {
			return ReadReply{}, err
		}
	}
	if l.hints != nil {
		if err := l.hints.Merge(keys, r.Recs, r.Found); err != nil {
			return ReadReply{}, err
		}
	}
	return r, nil
}

// Scan implements Replica: a page of the engine's records in the span,
// keys copied, values left out.
func (l *Local) Scan(ctx context.Context, req ScanRequest) (ScanReply, error) {
	if err := ctx.Err(); err != nil {
		return ScanReply{}, err
	}
	if err := l.stale(req.Epoch); err != nil {
		return ScanReply{}, err
	}
	r := ScanReply{Behind: l.behind()}
	var err error
	r.Next, r.More, err = l.eng.ScanPage(engine.Span{Start: req.Start, End: req.End}, req.Limit, func(k []byte, rec engine.Record) error {
		rec.Value = nil
		r.Keys, r.Recs = append(r.Keys, bytes.Clone(k)), append(r.Recs, rec)
		return nil
	})
	if err != nil {
		return ScanReply{}, err
	}
	return r, nil
}

// Count implements Replica: the engine's live records now.
func (l *Local) Count(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return l.eng.Count(l.now().UnixMilli())
}

// ClassCounts implements Replica.
func (l *Local) ClassCounts(ctx context.Context) ([]engine.ClassCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := l.now().UnixMilli()
	cs, err := l.eng.ClassCounts(now)
	if cs != nil || err != nil {
		return cs, err
	}
	n, err := l.eng.Count(now)
	return []engine.ClassCount{{Keys: n}}, err
}

// DropAll implements Replica.
func (l *Local) DropAll(ctx context.Context, floor engine.Version) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.eng.DropAllAt(floor)
}
