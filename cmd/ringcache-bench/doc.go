// Command ringcache-bench measures ringcache and compares it with
// redis-server.
//
//	ringcache-bench load    [flags]   drive a mixed GET/SET/DEL load at one server
//	ringcache-bench compare [flags]   redis-benchmark ringcache against redis-server
//	ringcache-bench handoff [flags]   hint replay after a node's outage under load
//	ringcache-bench repair  [flags]   one anti-entropy exchange between two replicas
//	ringcache-bench nemesis [flags]   fault injection against a 5-node cluster, checked
//
// Each subcommand prints a human-readable report, or JSON with --json.
// The measuring itself lives in package bench; this command only parses
// flags, wires Ctrl-C to cancellation and prints.
package main
