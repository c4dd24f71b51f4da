// Command ringcache-bench measures ringcache and compares it with
// redis-server.
//
//	ringcache-bench load    [flags]   drive a mixed GET/SET/DEL load at one server
//	ringcache-bench compare [flags]   redis-benchmark ringcache against redis-server
//
// Both subcommands print a human-readable report, or one JSON object with
// --json. The measuring itself lives in package bench; this command only
// parses flags, wires Ctrl-C to cancellation and prints.
package main
