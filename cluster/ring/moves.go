package ring

import "slices"

// Move is a range whose replicas differ between two rings: From holds it
// on the old ring, To on the new one (each primary first).
type Move struct {
	Range
	From, To []string
}

// Gaining returns the members of To that are not in From: those that
// must receive the range's data.
func (m Move) Gaining() []string { return minus(m.To, m.From) }

// Losing returns the members of From that are not in To: those whose
// copy of the range becomes surplus once the move is done.
func (m Move) Losing() []string { return minus(m.From, m.To) }

func minus(a, b []string) []string {
	var out []string
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// Moves returns the ranges whose set of n replicas differs between from
// and to, in token order, adjacent ranges with the same replicas merged
// (the first range may wrap past the top of the token space). It is the
// plan of a topology change: what each gaining member must receive, from
// which old replicas. Nil when either ring has no token. Pure.
func Moves(from, to *Ring, n int) []Move {
	if len(from.tokens) == 0 || len(to.tokens) == 0 {
		return nil
	}
	// Between two consecutive points of either ring no token of either
	// lies, so one preference list per ring holds for the whole range.
	pts := append(slices.Clone(from.tokens), to.tokens...)
	slices.Sort(pts)
	pts = slices.Compact(pts)
	var out []Move
	var fb, tb []int
	for j, p := range pts {
		fb, tb = from.AppendPreference(fb[:0], p, n), to.AppendPreference(tb[:0], p, n)
		f, t := from.ids(fb), to.ids(tb)
		if SameSet(f, t) {
			continue
		}
		g := Range{Start: pts[(j+len(pts)-1)%len(pts)], End: p}
		if k := len(out) - 1; k >= 0 && out[k].End == g.Start && slices.Equal(out[k].From, f) && slices.Equal(out[k].To, t) {
			out[k].End = g.End
			continue
		}
		out = append(out, Move{Range: g, From: f, To: t})
	}
	return out
}

// ids returns the ids of the member indices idx.
func (r *Ring) ids(idx []int) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = r.nodes[x].ID
	}
	return out
}

// SameSet reports whether a and b hold the same ids, in any order (each
// without repeats, as preference lists are).
func SameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			return false
		}
	}
	return true
}
