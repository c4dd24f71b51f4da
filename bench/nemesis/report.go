package nemesis

import (
	"fmt"
	"io"
	"strings"
)

// Line is the scenario's one-line summary: its figures, then PASS or
// FAIL; or SKIP or ERROR with the reason.
func (r ScenarioResult) Line() string {
	head := fmt.Sprintf("nemesis %-10s", r.Scenario)
	switch r.Status {
	case StatusSkip:
		return fmt.Sprintf("%s SKIP: %s", head, r.Reason)
	case StatusError:
		return fmt.Sprintf("%s ERROR after %.0fs: %s (kept %s)", head, r.Seconds, r.Reason, r.Dir)
	}
	x := r.Result
	var b strings.Builder
	fmt.Fprintf(&b, "%s ops=%d acked_writes=%d lost=%d discarded=%d stale_reads=%d/%d undone_deletes=%d nil_reads=%d/%d/%d not_on_owners=%d",
		head, x.Ops, x.AckedWrites, x.Lost, x.Discarded, x.StaleReads[0], x.StaleReads[1], x.UndoneDeletes,
		x.NilReads[Before], x.NilReads[During], x.NilReads[After], x.NotOnOwners)
	if e := x.Evicted; e != nil {
		fmt.Fprintf(&b, " evicted_reads=%d/%d/%d evicted_absent=%d evicted_keys=%d",
			e.Reads[Before], e.Reads[During], e.Reads[After], e.Keys, e.ByNodes)
	}
	if x.UnderReplicated > 0 {
		fmt.Fprintf(&b, " under_replicated=%d", x.UnderReplicated)
	}
	if x.SplitOwners > 0 {
		fmt.Fprintf(&b, " split_owners=%d", x.SplitOwners)
	}
	if x.BadValues > 0 {
		fmt.Fprintf(&b, " bad_values=%d", x.BadValues)
	}
	if x.FutureVersions > 0 {
		fmt.Fprintf(&b, " future_versions=%d", x.FutureVersions)
	}
	if x.RewritesLost > 0 {
		fmt.Fprintf(&b, " rewrites_lost=%d", x.RewritesLost)
	}
	if x.FinalErrors > 0 {
		fmt.Fprintf(&b, " final_errors=%d", x.FinalErrors)
	}
	if n := len(x.Incomplete); n > 0 {
		fmt.Fprintf(&b, " incomplete=%d", n)
	}
	fmt.Fprintf(&b, " avail_w=%s/%s/%s avail_r=%s/%s/%s time=%.0fs %s",
		x.Writes[Before], x.Writes[During], x.Writes[After], x.Reads[Before], x.Reads[During], x.Reads[After],
		r.Seconds, r.Status)
	if r.Status == StatusFail {
		fmt.Fprintf(&b, " (kept %s)", r.Dir)
	}
	return b.String()
}

// WriteTable prints the results as a Markdown table.
func WriteTable(w io.Writer, results []ScenarioResult) error {
	var b strings.Builder
	b.WriteString("| scenario | ops | acked writes | lost | discarded | stale reads (fault / outside) | undone deletes | nil reads (before / fault / after) | not on owners (of checked) | writes ok % (before / fault / after) | reads ok % (before / fault / after) | seconds | result |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		if r.Status == StatusSkip || r.Status == StatusError {
			fmt.Fprintf(&b, "| %s | | | | | | | | | | | %.0f | %s: %s |\n", r.Scenario, r.Seconds, r.Status, mdEscape(r.Reason))
			continue
		}
		x := r.Result
		status := r.Status
		if x.UnderReplicated > 0 || x.SplitOwners > 0 || x.BadValues > 0 || x.FinalErrors > 0 || len(x.Incomplete) > 0 {
			status += fmt.Sprintf(" (under-replicated %d, split owners %d, bad values %d, final errors %d, incomplete: %s)",
				x.UnderReplicated, x.SplitOwners, x.BadValues, x.FinalErrors, mdEscape(strings.Join(x.Incomplete, "; ")))
		}
		if e := x.Evicted; e != nil {
			status += fmt.Sprintf(" (eviction: nil reads %d / %d / %d and %d keys absent at the end, allowed; %d keys evicted by the nodes; future versions %d, rewrites lost %d)",
				e.Reads[Before], e.Reads[During], e.Reads[After], e.Keys, e.ByNodes, x.FutureVersions, x.RewritesLost)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d / %d | %d | %d / %d / %d | %d (of %d) | %s / %s / %s | %s / %s / %s | %.0f | %s |\n",
			r.Scenario, x.Ops, x.AckedWrites, x.Lost, x.Discarded, x.StaleReads[0], x.StaleReads[1], x.UndoneDeletes,
			x.NilReads[Before], x.NilReads[During], x.NilReads[After], x.NotOnOwners, x.OwnersChecked,
			x.Writes[Before], x.Writes[During], x.Writes[After], x.Reads[Before], x.Reads[During], x.Reads[After],
			r.Seconds, status)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
