package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// churnThreads allocates C memory on n threads at once, each locked to
// its goroutine, so that each asks the allocator for an arena.
func churnThreads(n int) {
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)
	start := make(chan struct{})
	for range n {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready.Done()
			<-start
			mallocChurn()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// TestMallocArenaCap checks that the process caps glibc's arenas before
// its threads start (malloc.go): 16 threads allocating at once share at
// most the cap. The same test binary run with MALLOC_ARENA_MAX=64 shows
// the churn makes more arenas than that when nothing caps them.
func TestMallocArenaCap(t *testing.T) {
	if os.Getenv("RINGCACHE_MALLOC_CHILD") == "1" {
		churnThreads(16)
		os.Stdout.WriteString("arenas=" + strconv.Itoa(mallocArenas()) + "\n")
		return
	}
	if os.Getenv("MALLOC_ARENA_MAX") != "" {
		t.Skip("MALLOC_ARENA_MAX is set: glibc applies it and the process leaves it")
	}
	if mallocArenas() < 0 {
		t.Skip("no glibc allocator to inspect (no cgo, or another C library)")
	}
	limit := mallocArenaCap()
	if limit < 2 {
		t.Fatalf("arena cap %d, want at least 2", limit)
	}
	churnThreads(16)
	if n := mallocArenas(); n > limit {
		t.Errorf("%d arenas after 16 threads allocated, cap %d", n, limit)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestMallocArenaCap$")
	cmd.Env = append(os.Environ(), "RINGCACHE_MALLOC_CHILD=1", "MALLOC_ARENA_MAX=64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "arenas=")
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(after, "\n", 2)[0]))
	if !ok || err != nil {
		t.Fatalf("child printed %q", out)
	}
	if n <= limit {
		t.Errorf("uncapped, 16 threads made %d arenas: the churn does not show a cap of %d", n, limit)
	}
	t.Logf("arenas: %d with the cap of %d, %d uncapped", mallocArenas(), limit, n)
}
