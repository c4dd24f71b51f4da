package main

// Pebble, built with cgo, allocates its block cache and its memtables
// with the C allocator, from whichever thread misses the cache or
// rotates a memtable. glibc gives threads arenas of their own, up to
// eight per core, and an arena keeps the memory freed into it: under
// eviction, whose sampling moves blocks through the cache, a node with a
// 64 MiB budget held about 160 MB of C memory in seven arenas, and about
// 100 MB in two, at the same CPU per SET (README, Eviction). So the
// process caps the arenas at one per core, two at least, before its
// first thread starts (malloc_cgo.go), unless the operator set
// MALLOC_ARENA_MAX, which glibc then reads itself. The cap is logged at
// start (debug level).
