package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestBitfieldAgainstRedis sends the same random BITFIELD and BITFIELD_RO
// commands (every type from i1 to i64 and u1 to u63, # offsets, the three
// OVERFLOW modes, values at and past every limit, and malformed ones) to
// redis-server and to ringcache, one node and a cluster, and requires the
// same reply to each, and the same string after each.
func TestBitfieldAgainstRedis(t *testing.T) {
	oracle, targets := startCompatTargets(t)
	conns := []*respConn{}
	for _, addr := range append([]string{oracle}, targets[0].addr, targets[1].addr) {
		c, err := dialRESP(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	edges := []int64{0, 1, -1, 2, -2, 127, 128, -128, -129, 255, 256, math.MaxInt32, math.MinInt32,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 62, -(1 << 62)}
	value := func() string {
		if rng.IntN(3) == 0 {
			return strconv.FormatInt(edges[rng.IntN(len(edges))], 10)
		}
		return strconv.FormatInt(rng.Int64N(1<<uint(rng.IntN(62)+1))-(1<<uint(rng.IntN(62))), 10)
	}
	typ := func() string {
		switch rng.IntN(40) {
		case 0:
			return []string{"u64", "i65", "x8", "i0", "u", "I8", "U3", "i-1"}[rng.IntN(8)]
		}
		if rng.IntN(2) == 0 {
			return "i" + strconv.Itoa(1+rng.IntN(64))
		}
		return "u" + strconv.Itoa(1+rng.IntN(63))
	}
	offset := func() string {
		switch rng.IntN(30) {
		case 0:
			return []string{"-1", "x", "#-1", "4294967296000", "#9223372036854775807"}[rng.IntN(5)]
		}
		if rng.IntN(3) == 0 {
			return "#" + strconv.Itoa(rng.IntN(8))
		}
		return strconv.Itoa(rng.IntN(160))
	}
	for round := range 1500 {
		key := fmt.Sprintf("bf:%d", round/50)
		cmd := "BITFIELD"
		if rng.IntN(8) == 0 {
			cmd = "BITFIELD_RO"
		}
		args := []string{cmd, key}
		for range 1 + rng.IntN(4) {
			switch rng.IntN(9) {
			case 0, 1, 2:
				args = append(args, "GET", typ(), offset())
			case 3, 4:
				args = append(args, "SET", typ(), offset(), value())
			case 5, 6:
				args = append(args, "INCRBY", typ(), offset(), value())
			case 7:
				args = append(args, "OVERFLOW", []string{"WRAP", "SAT", "FAIL", "sat", "bogus"}[rng.IntN(5)])
			case 8:
				if rng.IntN(4) == 0 {
					args = append(args, []string{"NOPE", "GET", "SET"}[rng.IntN(3)])
				}
			}
		}
		for _, a := range [][]string{args, {"GET", key}} {
			want, err := conns[0].do(a...)
			if err != nil {
				t.Fatalf("%s to redis-server: %v", strings.Join(a, " "), err)
			}
			for i, c := range conns[1:] {
				got, err := c.do(a...)
				if err != nil {
					t.Fatalf("%s to %s: %v", strings.Join(a, " "), targets[i].name, err)
				}
				if string(got) != string(want) {
					t.Fatalf("%s on %s:\n  redis-server: %q\n  ringcache:    %q", strings.Join(a, " "), targets[i].name, want, got)
				}
			}
		}
	}
}
