package server

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The latency monitor records, per event, the commands that took at least
// latency-monitor-threshold milliseconds (0, the default, records
// nothing), as Redis's does: one sample per second per event, the
// slowest of that second, the latest latencyHistory of them. The events
// are "command" (a slow command) and "fast-command" (a slow command Redis
// documents as O(1) or O(log N)). LATENCY LATEST, HISTORY, RESET, GRAPH,
// DOCTOR and HELP read them.

// latencyHistory is how many samples an event keeps (Redis's
// LATENCY_TS_LEN).
const latencyHistory = 160

type latencySample struct {
	at int64 // Unix seconds
	ms int64
}

type latencyEvent struct {
	samples []latencySample // oldest first
	max     int64
}

type latencyMonitor struct {
	threshold atomic.Int64 // ms; 0: off
	mu        sync.Mutex
	events    map[string]*latencyEvent
}

// observe records a command that took d, if the monitor is on and d is
// at least the threshold.
func (m *latencyMonitor) observe(fast bool, d time.Duration, now time.Time) {
	t := m.threshold.Load()
	ms := d.Milliseconds()
	if t <= 0 || ms < t {
		return
	}
	name := "command"
	if fast {
		name = "fast-command"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*latencyEvent{}
	}
	ev := m.events[name]
	if ev == nil {
		ev = &latencyEvent{}
		m.events[name] = ev
	}
	at := now.Unix()
	if n := len(ev.samples); n > 0 && ev.samples[n-1].at == at {
		ev.samples[n-1].ms = max(ev.samples[n-1].ms, ms)
	} else {
		if n == latencyHistory {
			ev.samples = append(ev.samples[:0], ev.samples[1:]...)
		}
		ev.samples = append(ev.samples, latencySample{at: at, ms: ms})
	}
	ev.max = max(ev.max, ms)
}

// latest returns each event's name, last sample and max, sorted by name.
func (m *latencyMonitor) latest() (names []string, last []latencySample, maxes []int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.events {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ev := m.events[name]
		last = append(last, ev.samples[len(ev.samples)-1])
		maxes = append(maxes, ev.max)
	}
	return names, last, maxes
}

func (m *latencyMonitor) history(name string) []latencySample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev := m.events[name]; ev != nil {
		return append([]latencySample(nil), ev.samples...)
	}
	return nil
}

// reset drops the named events (every one when names is empty) and
// returns how many it dropped.
func (m *latencyMonitor) reset(names []string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(names) == 0 {
		n := len(m.events)
		m.events = nil
		return n
	}
	n := 0
	for _, name := range names {
		if _, ok := m.events[name]; ok {
			delete(m.events, name)
			n++
		}
	}
	return n
}

func cmdLatencyLatest(x *call) error {
	names, last, maxes := x.s.latency.latest()
	x.conn.WriteArray(len(names))
	for i, name := range names {
		x.conn.WriteArray(4)
		x.conn.WriteBulkString(name)
		x.conn.WriteInt64(last[i].at)
		x.conn.WriteInt64(last[i].ms)
		x.conn.WriteInt64(maxes[i])
	}
	return nil
}

func cmdLatencyHistory(x *call) error {
	samples := x.s.latency.history(string(x.args[2]))
	x.conn.WriteArray(len(samples))
	for _, s := range samples {
		x.conn.WriteArray(2)
		x.conn.WriteInt64(s.at)
		x.conn.WriteInt64(s.ms)
	}
	return nil
}

func cmdLatencyReset(x *call) error {
	names := make([]string, 0, len(x.args)-2)
	for _, a := range x.args[2:] {
		names = append(names, string(a))
	}
	x.conn.WriteInt(x.s.latency.reset(names))
	return nil
}

// cmdLatencyGraph answers LATENCY GRAPH event: the event's samples as
// rows of text, one per sample, newest last.
func cmdLatencyGraph(x *call) error {
	name := string(x.args[2])
	samples := x.s.latency.history(name)
	if len(samples) == 0 {
		return newReplyError(fmt.Sprintf("ERR No samples available for event '%s'", name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - high %d ms, low %d ms (all time high %d ms)\n", name, maxMs(samples), minMs(samples), maxMs(samples))
	now := x.s.now().Unix()
	for _, s := range samples {
		fmt.Fprintf(&b, "%5ds ago %s %d ms\n", now-s.at, strings.Repeat("#", int(min(s.ms*40/max(maxMs(samples), 1), 40))), s.ms)
	}
	x.conn.WriteVerbatim(b.String())
	return nil
}

func maxMs(s []latencySample) (m int64) {
	for _, x := range s {
		m = max(m, x.ms)
	}
	return m
}

func minMs(s []latencySample) int64 {
	m := s[0].ms
	for _, x := range s {
		m = min(m, x.ms)
	}
	return m
}

// cmdLatencyDoctor answers LATENCY DOCTOR with a short report.
func cmdLatencyDoctor(x *call) error {
	var b strings.Builder
	names, last, maxes := x.s.latency.latest()
	switch {
	case x.s.latency.threshold.Load() <= 0:
		b.WriteString("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n")
	case len(names) == 0:
		b.WriteString("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n")
	default:
		b.WriteString("Dave, I have observed latency spikes in this Redis instance.\n\n")
		for i, name := range names {
			fmt.Fprintf(&b, "%d. %s: latest %d ms at %s, max %d ms.\n", i+1, name, last[i].ms,
				time.Unix(last[i].at, 0).UTC().Format(time.RFC3339), maxes[i])
		}
	}
	x.conn.WriteVerbatim(b.String())
	return nil
}

func cmdLatencyHelp(x *call) error {
	lines := []string{
		"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DOCTOR",
		"    Return a human readable latency analysis report.",
		"GRAPH <event>",
		"    Return an ASCII latency graph for the <event> class.",
		"HISTORY <event>",
		"    Return time-latency samples for the <event> class.",
		"LATEST",
		"    Return the latest latency samples for all events.",
		"RESET [<event> ...]",
		"    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
		"HELP",
		"    Prints this help.",
	}
	x.conn.WriteArray(len(lines))
	for _, l := range lines {
		x.conn.WriteString(l)
	}
	return nil
}
