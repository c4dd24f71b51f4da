package coordinator

import (
	"github.com/ringcache/ringcache/engine"
)

// Sloppy quorum. A key's owners are the first N distinct nodes of its
// preference list. A request uses the first N *healthy* nodes instead:
// every healthy owner, and in place of each unhealthy owner the next
// healthy node beyond the first N, which keeps the write as a hint
// naming the owner it stands in for (hinted handoff gives it back when
// the owner returns). The choice is pure, so it is tested on its own.

// choice is where one copy of a key goes in a request.
type choice struct {
	id string
	// hint, when set, names the owner that id stands in for: id keeps the
	// copy as a hint for it.
	hint string
}

// chooseReplicas appends to dst a key's replicas for one request. prefs
// is the key's preference list: its first n entries are the owners, the
// rest the fallbacks in ring order. down reports nodes believed
// unhealthy (nil: all healthy). Every healthy owner is chosen as itself;
// each unhealthy owner, in order, is replaced by the next healthy
// fallback not chosen yet. An unhealthy owner with no healthy fallback
// left is chosen itself: health is a guess, and a call that fails costs
// no more than not asking. sloppy reports whether some owner was
// replaced.
func chooseReplicas(dst []choice, prefs []string, n int, down func(string) bool) (out []choice, sloppy bool) {
	owners := min(n, len(prefs))
	next := owners // next fallback to consider
	for _, id := range prefs[:owners] {
		if down == nil || !down(id) {
			dst = append(dst, choice{id: id})
			continue
		}
		for next < len(prefs) && down(prefs[next]) {
			next++
		}
		if next == len(prefs) {
			dst = append(dst, choice{id: id})
			continue
		}
		dst = append(dst, choice{id: prefs[next], hint: id})
		next++
		sloppy = true
	}
	return dst, sloppy
}

// fallbackFor returns the first node of prefs beyond the first n that is
// healthy and not in used, or "" if none is.
func fallbackFor(prefs []string, n int, down func(string) bool, used func(string) bool) string {
	for _, id := range prefs[min(n, len(prefs)):] {
		if (down == nil || !down(id)) && !used(id) {
			return id
		}
	}
	return ""
}

// fallback takes over the keys of failed batch b (see planFallback) and
// launches call against each substitute batch. It returns which positions
// of b were taken over (nil if none).
func (c *Coordinator) fallback(f *fanout, fl *flight, b int, call batchCall) []bool {
	covered, first := c.planFallback(f, fl, b)
	for j := first; j < len(f.batches); j++ {
		nbt := &f.batches[j]
		c.stats.fallbacks.Add(1)
		fl.left.Add(1)
		c.launchBatch(fl, j, nbt, call)
	}
	return covered
}

// planFallback adds substitute batches for the keys of failed batch b:
// for each key, the first healthy node of its preference list beyond the
// owners that is not already asked for it in this request, standing in
// for b's node (a write's substitute keeps the records as hints for it).
// It returns which positions of b were taken over (nil if none) and the
// index of the first new batch; the caller launches them. Without
// sloppy quorum, for a batch that is itself a substitute, or with the
// flight full, nothing is taken over.
func (c *Coordinator) planFallback(f *fanout, fl *flight, b int) (covered []bool, first int) {
	first = len(f.batches)
	bt := &f.batches[b]
	if !f.sloppy || bt.hint != "" || bt.fallback || c.closedErr() != nil {
		return nil, first
	}
	owner := bt.id
	// The request's own topology, judged now: a peer whose call failed
	// since the request began is not in it, but the failed owner is
	// never its own stand-in.
	health := f.topo.Unhealthy(c.now())
	down := func(id string) bool { return id == owner || (health != nil && health(id)) }
	var prefBuf [16]string
	for p, i := range bt.idx {
		k := bt.keys[p]
		prefs := f.topo.AppendPreference(prefBuf[:0], engine.Token(k), c.cfg.N+c.cfg.Fallbacks)
		sub := fallbackFor(prefs, c.cfg.N, down, func(id string) bool { return f.holds(i, id) })
		if sub == "" {
			continue
		}
		nb := -1
		for j := first; j < len(f.batches); j++ {
			if f.batches[j].id == sub {
				nb = j
				break
			}
		}
		if nb < 0 {
			if fl.room() == 0 {
				continue
			}
			rep, ok := f.topo.Replica(sub)
			if !ok {
				continue
			}
			f.batches = append(f.batches, batch{id: sub, rep: rep, hint: owner, fallback: true, epoch: f.topo.Epoch()})
			fl.launched++
			nb = len(f.batches) - 1
			bt = &f.batches[b] // the append may have moved it
		}
		nbt := &f.batches[nb]
		nbt.idx = append(nbt.idx, i)
		nbt.keys = append(nbt.keys, k)
		if bt.recs != nil { // a write: the substitute gets the records
			nbt.recs = append(nbt.recs, bt.recs[p])
		}
		if covered == nil {
			covered = make([]bool, len(bt.idx))
		}
		covered[p] = true
	}
	return covered, first
}
