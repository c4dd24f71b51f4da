package server

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// INFO: Redis's section format ("# Name\r\nfield:value\r\n", sections
// separated by a blank line), so tools that parse redis INFO work.

// infoSection is one section being rendered.
type infoSection struct {
	name   string
	fields [][2]string
}

func cmdInfo(x *call) error {
	want := map[string]bool{}
	for _, a := range x.args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	// Default sections exclude commandstats, as in Redis; "all" and
	// "everything" have every section.
	every := want["all"] || want["everything"]
	all := len(want) == 0 || want["default"] || every
	sections, err := x.s.infoSections(x, every || want["commandstats"])
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, sec := range sections {
		if !all && !want[strings.ToLower(sec.name)] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# ")
		b.WriteString(sec.name)
		b.WriteString("\r\n")
		for _, f := range sec.fields {
			b.WriteString(f[0])
			b.WriteByte(':')
			b.WriteString(f[1])
			b.WriteString("\r\n")
		}
	}
	x.conn.WriteVerbatim(b.String())
	return nil
}

// infoSections builds every section, Commandstats only with
// commandStats. A store's InfoProvider sections
// replace built-in sections of the same name and follow the others, except
// "Cluster", whose fields are appended to the built-in one (see
// mergeCluster).
func (s *Server) infoSections(x *call, commandStats bool) ([]infoSection, error) {
	counts, err := s.dbCounts(x, true)
	if err != nil {
		return nil, err
	}
	secs := []infoSection{
		s.infoServer(), s.infoClients(), s.infoMemory(), s.infoPersistence(),
		s.infoStats(), {name: "Replication", fields: [][2]string{{"role", "master"}, {"connected_slaves", "0"}}},
		infoCPU(), {name: "Modules"}, s.errStats.section(),
		infoCluster(), infoKeyspace(counts, s.now().UnixMilli()), s.infoRingcache(),
	}
	if commandStats {
		secs = append(secs, s.cmdStats.section())
	}
	p, ok := s.store.(InfoProvider)
	if !ok {
		return secs, nil
	}
	for _, ps := range p.InfoSections() {
		sec := infoSection{name: ps.Name, fields: ps.Fields}
		replaced := false
		for i := range secs {
			if !strings.EqualFold(secs[i].name, ps.Name) {
				continue
			}
			if strings.EqualFold(ps.Name, clusterSection) {
				secs[i] = mergeCluster(secs[i], ps.Fields)
			} else {
				secs[i] = sec
			}
			replaced = true
		}
		if !replaced {
			secs = append(secs, sec)
		}
	}
	return secs, nil
}

// dbCounts returns each database's figures, index = database: with
// estimate, the store's estimate when it has one (KeyEstimator), so INFO
// does not wait for a remote count. A store that does not count per
// database (DBCounter) holds every key in database 0.
func (s *Server) dbCounts(x *call, estimate bool) ([]store.DBCount, error) {
	if e, ok := s.store.(KeyEstimator); ok && estimate {
		return e.DBEstimates(), nil
	}
	if c, ok := s.store.(DBCounter); ok {
		return c.DBCounts(x.ctx())
	}
	n, err := s.store.Len(x.ctx())
	return []store.DBCount{{Keys: n}}, err
}

// clusterSection is the INFO section cluster-aware clients read.
const clusterSection = "Cluster"

// infoCluster is the built-in Cluster section. ringcache partitions keys
// itself, behind every node, so it never speaks the Redis Cluster protocol:
// cluster_enabled:0 makes cluster-aware clients treat a node as standalone
// and send every command to it.
func infoCluster() infoSection {
	return infoSection{name: clusterSection, fields: [][2]string{{"cluster_enabled", "0"}}}
}

// mergeCluster appends a store's Cluster fields to the built-in section,
// so INFO prints one "# Cluster" block. A store's own cluster_enabled is
// dropped: the value clients route by is the server's to give.
func mergeCluster(sec infoSection, fields [][2]string) infoSection {
	out := make([][2]string, len(sec.fields), len(sec.fields)+len(fields))
	copy(out, sec.fields)
	for _, f := range fields {
		if f[0] != "cluster_enabled" {
			out = append(out, f)
		}
	}
	return infoSection{name: sec.name, fields: out}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func (s *Server) infoServer() infoSection {
	now := s.now()
	up := int64(now.Sub(s.started) / time.Second)
	port := ""
	if a := s.Addr(); a != nil {
		if i := strings.LastIndexByte(a.String(), ':'); i >= 0 {
			port = a.String()[i+1:]
		}
	}
	exe, _ := os.Executable()
	return infoSection{name: "Server", fields: [][2]string{
		{"redis_version", redisVersion},
		{"redis_git_sha1", "00000000"},
		{"redis_git_dirty", "0"},
		{"redis_build_id", "0"},
		{"redis_mode", "standalone"},
		{"os", runtime.GOOS + " " + runtime.GOARCH},
		{"arch_bits", strconv.Itoa(strconv.IntSize)},
		{"multiplexing_api", "go"},
		{"go_version", runtime.Version()},
		{"process_id", strconv.Itoa(os.Getpid())},
		{"run_id", s.runID},
		{"tcp_port", port},
		{"server_time_usec", itoa(now.UnixMicro())},
		{"uptime_in_seconds", itoa(up)},
		{"uptime_in_days", itoa(up / 86400)},
		{"hz", "10"},
		{"configured_hz", "10"},
		{"executable", exe},
		{"config_file", ""},
	}}
}

func (s *Server) infoClients() infoSection {
	return infoSection{name: "Clients", fields: [][2]string{
		{"connected_clients", itoa(s.stats.current.Load())},
		{"cluster_connections", "0"},
		{"maxclients", strconv.FormatInt(s.live.maxClients.Load(), 10)},
		{"client_recent_max_input_buffer", "0"},
		{"client_recent_max_output_buffer", "0"},
		{"blocked_clients", "0"},
		{"tracking_clients", "0"},
		{"clients_in_timeout_table", "0"},
	}}
}

// infoMemory reports the dataset against its budget: used_memory is the
// engine's live dataset size (what maxmemory limits), not the heap; the
// process's figures follow under their own names.
func (s *Server) infoMemory() infoSection {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := MemoryUsage{Used: int64(ms.HeapAlloc), Policy: "noeviction"}
	var disk uint64
	if s.cfg.Memory != nil {
		u, disk = s.cfg.Memory.Usage(), s.cfg.Memory.DiskBytes()
	}
	rss := rssBytes()
	if rss == 0 {
		rss = ms.Sys
	}
	return infoSection{name: "Memory", fields: [][2]string{
		{"used_memory", strconv.FormatInt(u.Used, 10)},
		{"used_memory_human", humanBytes(uint64(u.Used))},
		{"used_memory_rss", strconv.FormatUint(rss, 10)},
		{"used_memory_rss_human", humanBytes(rss)},
		{"used_memory_peak", strconv.FormatUint(ms.HeapSys, 10)},
		{"used_memory_peak_human", humanBytes(ms.HeapSys)},
		{"used_memory_heap", strconv.FormatUint(ms.HeapAlloc, 10)},
		{"used_memory_heap_human", humanBytes(ms.HeapAlloc)},
		{"maxmemory", strconv.FormatInt(u.Max, 10)},
		{"maxmemory_human", humanBytes(uint64(u.Max))},
		{"maxmemory_policy", u.Policy},
		{"ringcache_disk_bytes", strconv.FormatUint(disk, 10)},
		{"ringcache_disk_bytes_human", humanBytes(disk)},
		{"mem_allocator", "go"},
	}}
}

// humanBytes formats like Redis's bytesToHuman: 1.50K, 2.00M.
func humanBytes(n uint64) string {
	units := []string{"B", "K", "M", "G", "T", "P"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatUint(n, 10) + "B"
	}
	return strconv.FormatFloat(f, 'f', 2, 64) + units[i]
}

func (s *Server) infoPersistence() infoSection {
	last, running, lastErr := s.lastSave()
	status := "ok"
	if lastErr != nil {
		status = "err"
	}
	return infoSection{name: "Persistence", fields: [][2]string{
		{"loading", "0"},
		{"async_loading", "0"},
		{"rdb_changes_since_last_save", "0"},
		{"rdb_bgsave_in_progress", itoa(b2i(running))},
		{"rdb_last_save_time", itoa(last.Unix())},
		{"rdb_last_bgsave_status", status},
		{"aof_enabled", "0"},
		{"aof_rewrite_in_progress", "0"},
		{"aof_last_bgrewrite_status", "ok"},
		{"aof_last_write_status", "ok"},
	}}
}

func (s *Server) infoStats() infoSection {
	st := s.Stats()
	return infoSection{name: "Stats", fields: [][2]string{
		{"total_connections_received", itoa(st.ConnectionsTotal)},
		{"total_commands_processed", itoa(st.CommandsProcessed)},
		{"instantaneous_ops_per_sec", "0"},
		{"total_net_input_bytes", itoa(st.BytesIn)},
		{"total_net_output_bytes", itoa(st.BytesOut)},
		{"rejected_connections", itoa(st.ConnectionsRejected)},
		{"total_error_replies", itoa(s.errStats.total.Load())},
		{"expired_keys", itoa(st.ExpiredKeys)},
		{"ringcache_commands_refused_after_stall", itoa(st.CommandsStalled)},
		{"ringcache_forwarded_to_primary", itoa(st.Forwarded)},
		{"ringcache_forward_reroutes", itoa(st.Rerouted)},
		{"ringcache_forwards_relayed", itoa(st.Relayed)},
		{"ringcache_forwards_refused", itoa(st.ForwardsRefused)},
		{"evicted_keys", itoa(s.evictedKeys())},
		{"keyspace_hits", itoa(st.KeyspaceHits)},
		{"keyspace_misses", itoa(st.KeyspaceMisses)},
		{"pubsub_channels", "0"},
		{"pubsub_patterns", "0"},
	}}
}

// infoKeyspace lists the databases that have keys, like Redis: keys,
// how many expire, and their average time to live in milliseconds.
func infoKeyspace(counts []store.DBCount, nowMs int64) infoSection {
	sec := infoSection{name: "Keyspace"}
	for db, c := range counts {
		if c.Keys <= 0 {
			continue
		}
		var avg int64
		if c.Expires > 0 {
			avg = max(c.ExpireSum*1000/c.Expires-nowMs, 0)
		}
		sec.fields = append(sec.fields, [2]string{"db" + itoa(int64(db)),
			"keys=" + itoa(c.Keys) + ",expires=" + itoa(max(c.Expires, 0)) + ",avg_ttl=" + itoa(avg)})
	}
	return sec
}

func (s *Server) infoRingcache() infoSection {
	return infoSection{name: "Ringcache", fields: [][2]string{
		{"ringcache_version", s.cfg.Version},
		{"ringcache_mode", "single"},
	}}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// evictedKeys is the keys this node evicted (INFO evicted_keys).
func (s *Server) evictedKeys() int64 {
	if s.cfg.Memory == nil {
		return 0
	}
	return s.cfg.Memory.Usage().Evicted
}

// rssBytes reads the process's resident set size from /proc (0 where
// there is none).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
