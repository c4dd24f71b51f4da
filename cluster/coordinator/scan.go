package coordinator

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
)

// maxScanPieces bounds the ranges one Scan call reads: a sparse keyspace
// ends a call early, at a step boundary, rather than read every range.
const maxScanPieces = 64

// Scan implements the server's Scanner: one step of SCAN. The cursor is
// a token position divided by 1<<engine.PageBits (0: the start). From
// there Scan reads the keyspace in token order, range by range of the
// ring, each range from its replicas: at least count live keys (or to
// the end of the ring), ending at a multiple of 1<<engine.PageBits
// tokens. It returns the live keys it found, in token order, and the
// cursor of the next step: 0 once the ring's end is reached.
//
// Each range is read from every replica that is not known to be down,
// and needs R answers (the consistency level's), as a read does: with
// R+W>N one of them holds every acknowledged write and every
// acknowledged delete's tombstone. The answers are merged by version,
// so a key that one replica lacks is still returned and a key deleted on
// the others is not. A replica answers with at most the keys asked for;
// the step stops at the smallest position an answer stopped at, so
// nothing any replica holds before it is skipped. Keys written during
// the iteration may or may not be returned, and a key may be returned
// twice (when the ring changed between steps), as with Redis's SCAN.
func (c *Coordinator) Scan(ctx context.Context, cursor uint64, count int) (keys [][]byte, next uint64, err error) {
	if err := c.enter(); err != nil {
		return nil, 0, err
	}
	defer c.leave()
	for try := 0; ; try++ {
		keys, next, epoch, err := c.scanStep(ctx, cursor, count)
		// A replica that knows a later layout refused a range: plan the
		// step again with it.
		if epoch == 0 || try == maxStaleRetries || !c.awaitEpoch(ctx, epoch) {
			return keys, next, err
		}
		c.stats.staleRetries.Add(1)
	}
}

// scanStep is one attempt of Scan with the current topology; stale is
// the topology's epoch when a replica refused the step for a later one
// (0 otherwise).
func (c *Coordinator) scanStep(ctx context.Context, cursor uint64, count int) (keys [][]byte, next, stale uint64, err error) {
	t := c.cfg.Topology.Load()
	if t == nil {
		return nil, 0, 0, ErrNoPlacement
	}
	rs := t.ReplicaRanges(c.cfg.N)
	if len(rs) == 0 {
		return nil, 0, 0, ErrNoPlacement
	}
	if cursor >= 1<<(64-engine.PageBits) {
		return nil, 0, 0, nil // past the end: no cursor of ours
	}
	level, _ := ConsistencyFrom(ctx)
	need := required(level, c.cfg.N, c.cfg.R)
	count = max(count, 1)
	pos := cursor << engine.PageBits
	for pieces := 1; ; pieces++ {
		// The range holding pos: the first whose end token is at or
		// after it (ranges hold (Start, End]), else the one that wraps.
		k := sort.Search(len(rs), func(i int) bool { return rs[i].End >= pos })
		end := uint64(0) // the top of the ring
		if k == len(rs) {
			k = 0
		} else if rs[k].End != math.MaxUint64 {
			end = rs[k].End + 1
		}
		sp := engine.Span{Start: pos, End: end}
		page, err := c.scanRange(ctx, t, rs[k].Replicas, sp, count-len(keys), need)
		if err != nil {
			if page.stale {
				stale = t.Epoch()
			}
			return nil, 0, stale, err
		}
		keys = append(keys, page.keys...)
		if !page.more && end == 0 {
			return keys, 0, 0, nil
		}
		pos = page.next
		if pos%(1<<engine.PageBits) == 0 && (len(keys) >= count || pieces >= maxScanPieces) {
			return keys, pos >> engine.PageBits, 0, nil
		}
	}
}

// scanPage is the merged answer of one range's replicas; stale, with an
// error, says a replica refused the request for a later layout.
type scanPage struct {
	keys  [][]byte
	next  uint64
	more  bool
	stale bool
}

// scanRange reads one page of span sp from the replicas ids (the owners
// of the range it lies in) and merges their answers.
func (c *Coordinator) scanRange(ctx context.Context, t *topology.Topology, ids []string, sp engine.Span, limit, need int) (scanPage, error) {
	req := replica.ScanRequest{Start: sp.Start, End: sp.End, Limit: max(limit, 1), Epoch: t.Epoch()}
	down := t.Unhealthy(c.now())
	fl := c.newFlight(len(ids), 0, time.Now().Add(c.cfg.Timeout))
	defer fl.cancel()
	for b, id := range ids {
		rep, ok := t.Replica(id)
		switch {
		case !ok:
			fl.finish(answer{b: b, err: ErrUnknownPeer})
		case down != nil && down(id):
			fl.finish(answer{b: b, err: fmt.Errorf("%s is down", id)})
		default:
			c.launch(fl, b, rep, func(ctx context.Context, rep replica.Replica) answer {
				p, err := rep.Scan(ctx, req)
				return answer{other: &p, err: err}
			})
		}
	}
	var pages []replica.ScanReply
	got, stale := 0, false
	for range ids {
		a, ok, err := fl.next(ctx, nil)
		if err != nil {
			return scanPage{}, fmt.Errorf("cluster: %w", err)
		}
		if !ok {
			break
		}
		if a.err != nil {
			c.log.Debug("replica scan failed", "peer", ids[a.b], "err", a.err)
			stale = stale || errors.Is(a.err, replica.ErrStaleEpoch)
			continue
		}
		p := a.other.(*replica.ScanReply)
		pages = append(pages, *p)
		if !p.Behind {
			got++
		}
		if got >= need {
			break
		}
	}
	if err := c.closedErr(); err != nil {
		return scanPage{}, err
	}
	if got < need {
		return scanPage{stale: stale}, &QuorumError{Got: got, Need: need}
	}
	return mergePages(pages, sp.End, c.now().UnixMilli()), nil
}

// mergePages merges replicas' pages of one span ending at end (0: the top
// of the ring): up to the smallest position a page stopped at, each key's
// newest record among the pages, kept if it is live at nowMs. Pure.
func mergePages(pages []replica.ScanReply, end uint64, nowMs int64) scanPage {
	out := scanPage{next: end}
	before := func(a, b uint64) bool { return b == 0 && a != 0 || a < b } // 0 is the top
	for _, p := range pages {
		if p.More && before(p.Next, out.next) {
			out.next, out.more = p.Next, true
		}
	}
	type entry struct {
		key []byte
		tok uint64
		rec engine.Record
	}
	newest := map[string]*entry{}
	for _, p := range pages {
		for i, k := range p.Keys {
			tok := engine.Token(k)
			if out.more && tok >= out.next {
				continue
			}
			if e, ok := newest[string(k)]; !ok {
				newest[string(k)] = &entry{key: k, tok: tok, rec: p.Recs[i]}
			} else if quorum.Compare(quorum.Reply{Found: true, Record: p.Recs[i]}, quorum.Reply{Found: true, Record: e.rec}) > 0 {
				e.rec = p.Recs[i]
			}
		}
	}
	live := make([]*entry, 0, len(newest))
	for _, e := range newest {
		if !e.rec.Tombstone && (e.rec.ExpireAt == 0 || e.rec.ExpireAt > nowMs) {
			live = append(live, e)
		}
	}
	slices.SortFunc(live, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.tok, b.tok), bytes.Compare(a.key, b.key))
	})
	out.keys = make([][]byte, len(live))
	for i, e := range live {
		out.keys[i] = e.key
	}
	return out
}
