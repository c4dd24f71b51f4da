// Package bench measures ringcache: a load generator for mixed workloads
// and a side-by-side comparison with redis-server.
//
// # Load generator
//
// Run drives Config.Conns connections (go-redis, RESP2), each owned by one
// goroutine in a closed loop: it sends Config.Pipeline commands, waits for
// all replies, records, and repeats. Commands are drawn from Config.Mix
// (GET/SET/DEL weights); keys are "key:%012d" indexes drawn uniformly, from
// a Zipf distribution (rank 0 hottest, exponent ZipfS, sampled by
// rejection-inversion so any s > 0 works in constant memory), or
// sequentially, which writes every key exactly once when Ops == Keys. The
// run ends after Config.Ops commands or Config.Duration; the pacing is
// closed-loop, so throughput is what the server sustains at that
// concurrency, not an offered rate.
//
// Latency is the round trip of the batch a command travelled in, recorded
// per command type into HDR histograms (1 µs to 60 s, 3 significant digits)
// that each connection owns and Run merges at the end; nothing is shared on
// the hot path except two atomic counters. A GET that finds nothing is a
// miss, not an error; go-redis retries are off so every failure is counted.
//
// # Comparison
//
// Compare starts each Target in turn on a free 127.0.0.1 port in its own
// temporary directory: by default redis-server with appendonly yes and
// appendfsync everysec ("redis-aof"), redis-server without persistence
// ("redis-noaof", the baseline every ratio divides by), and one ringcache
// node with fsync everysec. Against each it runs
//
//	redis-benchmark -h 127.0.0.1 -p PORT -t set,get -c 50 -r 100000 -d 100 -P {1,16} -n N --csv
//
// where N comes from a short calibration run so the faster test lasts at
// least MinRunTime, repeats it Runs times and keeps the median of each
// column separately. The csv columns are found by header name (redis 7);
// older redis-benchmark versions without latency columns are read from
// their human-readable output instead. Then, when RSS is on, it writes
// RSSKeys distinct keys of DataSize bytes with the load generator, checks
// DBSIZE, and reads VmRSS of the server process from /proc.
//
// Only one target runs at a time, and every process Compare starts is
// stopped (SIGTERM, then SIGKILL after a timeout) and its directory removed
// before Compare returns, including on error and cancellation. Target is
// the seam for a later cluster mode: a target that starts several nodes and
// hands redis-benchmark the address of one of them.
package bench
