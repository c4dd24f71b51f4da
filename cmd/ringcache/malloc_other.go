//go:build !(linux && cgo)

package main

// Without cgo on Linux, Pebble allocates its caches and memtables in
// the Go heap and there is no C allocator to tune.

func mallocArenaCap() int { return 0 }
func mallocArenas() int   { return -1 }
func mallocChurn()        {}
