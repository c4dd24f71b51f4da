package server

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// INFO's commandstats, errorstats and cpu sections, as Redis 7 reports
// them, for the tools that scrape INFO (exporters, dashboards).

// cmdStat counts one command's calls, as Redis's cmdstat_<name> line.
type cmdStat struct {
	calls, usec, rejected, failed atomic.Int64
}

// commandStats counts every command this node ran for a client (batched
// or alone, forwarded here or not), by full name ("config|get").
type commandStats struct{ m sync.Map } // name -> *cmdStat

func (cs *commandStats) of(name string) *cmdStat {
	if v, ok := cs.m.Load(name); ok {
		return v.(*cmdStat)
	}
	v, _ := cs.m.LoadOrStore(name, new(cmdStat))
	return v.(*cmdStat)
}

// ran counts a command that ran for d, failed when it answered an error.
func (cs *commandStats) ran(name string, d time.Duration, failed bool) {
	cs.ranMany(name, 1, d, failed)
}

// ranMany counts n calls of a command that ran for d each.
func (cs *commandStats) ranMany(name string, n int, d time.Duration, failed bool) {
	st := cs.of(name)
	st.calls.Add(int64(n))
	st.usec.Add(int64(n) * d.Microseconds())
	if failed {
		st.failed.Add(int64(n))
	}
}

// rejected counts a command refused before it ran (authentication, BUSY,
// OOM).
func (cs *commandStats) rejected(name string) { cs.of(name).rejected.Add(1) }

func (cs *commandStats) reset() { cs.m.Clear() }

func (cs *commandStats) section() infoSection {
	sec := infoSection{name: "Commandstats"}
	cs.m.Range(func(k, v any) bool {
		st := v.(*cmdStat)
		calls, usec := st.calls.Load(), st.usec.Load()
		perCall := 0.0
		if calls > 0 {
			perCall = float64(usec) / float64(calls)
		}
		sec.fields = append(sec.fields, [2]string{"cmdstat_" + k.(string),
			"calls=" + itoa(calls) + ",usec=" + itoa(usec) +
				",usec_per_call=" + strconv.FormatFloat(perCall, 'f', 2, 64) +
				",rejected_calls=" + itoa(st.rejected.Load()) + ",failed_calls=" + itoa(st.failed.Load())})
		return true
	})
	slices.SortFunc(sec.fields, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return sec
}

// maxErrorCodes bounds the error codes errorStats tracks, as Redis's
// ERRORSTATS_LIMIT does: later new codes count in the total only.
const maxErrorCodes = 128

// errorStats counts the error replies sent to clients by their code, the
// first word of the message ("ERR", "WRONGTYPE", "NOQUORUM").
type errorStats struct {
	total atomic.Int64
	mu    struct {
		sync.Mutex
		counts map[string]int64
	}
}

func (es *errorStats) add(msg string) {
	es.total.Add(1)
	code, _, _ := strings.Cut(msg, " ")
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.mu.counts == nil {
		es.mu.counts = make(map[string]int64)
	}
	if _, ok := es.mu.counts[code]; ok || len(es.mu.counts) < maxErrorCodes {
		es.mu.counts[code]++
	}
}

func (es *errorStats) reset() {
	es.total.Store(0)
	es.mu.Lock()
	es.mu.counts = nil
	es.mu.Unlock()
}

func (es *errorStats) section() infoSection {
	sec := infoSection{name: "Errorstats"}
	es.mu.Lock()
	for code, n := range es.mu.counts {
		sec.fields = append(sec.fields, [2]string{"errorstat_" + code, "count=" + itoa(n)})
	}
	es.mu.Unlock()
	slices.SortFunc(sec.fields, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return sec
}

// infoCPU is Redis's CPU section: the process's and its children's
// system and user CPU time, in seconds.
func infoCPU() infoSection {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	secs := func(tv syscall.Timeval) string {
		return strconv.FormatFloat(float64(tv.Sec)+float64(tv.Usec)/1e6, 'f', 6, 64)
	}
	return infoSection{name: "CPU", fields: [][2]string{
		{"used_cpu_sys", secs(self.Stime)},
		{"used_cpu_user", secs(self.Utime)},
		{"used_cpu_sys_children", secs(children.Stime)},
		{"used_cpu_user_children", secs(children.Utime)},
	}}
}
