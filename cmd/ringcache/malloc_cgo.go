//go:build linux && cgo

package main

/*
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// The cap on glibc's malloc arenas is set before the Go runtime starts
// any thread, as MALLOC_ARENA_MAX would be: a thread's arena is chosen
// on its first allocation, and the cap only bounds arenas made after it.
static int ringcache_arena_cap;

static void __attribute__((constructor)) ringcache_limit_arenas(void) {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
	if (getenv("MALLOC_ARENA_MAX") != NULL) {
		return;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2) {
		n = 2;
	}
	if (mallopt(M_ARENA_MAX, (int)n) == 1) {
		ringcache_arena_cap = (int)n;
	}
#endif
}

static int ringcache_arena_cap_set(void) { return ringcache_arena_cap; }

// ringcache_arenas counts the allocator's arenas (malloc_info's heaps),
// or returns -1 where it cannot.
static int ringcache_arenas(void) {
#if defined(__GLIBC__)
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		return -1;
	}
	int rc = malloc_info(0, f);
	fclose(f);
	int n = 0;
	for (char *p = buf; rc == 0 && p != NULL && (p = strstr(p, "<heap nr=")) != NULL; p++) {
		n++;
	}
	free(buf);
	return rc == 0 ? n : -1;
#else
	return -1;
#endif
}

// ringcache_malloc_churn allocates and frees from the calling thread, so
// that it takes an arena.
static void ringcache_malloc_churn(void) {
	for (int i = 0; i < 64; i++) {
		void *p = malloc(256 << 10);
		if (p != NULL) {
			memset(p, 1, 4096);
		}
		free(p);
	}
}
*/
import "C"

// mallocArenaCap is the cap on the C allocator's arenas set at start, or
// 0 if none was (MALLOC_ARENA_MAX given, or not glibc). See malloc.go.
func mallocArenaCap() int { return int(C.ringcache_arena_cap_set()) }

// mallocArenas returns how many arenas the C allocator has, or -1 if it
// cannot tell.
func mallocArenas() int { return int(C.ringcache_arenas()) }

// mallocChurn allocates and frees C memory on the calling thread.
func mallocChurn() { C.ringcache_malloc_churn() }
