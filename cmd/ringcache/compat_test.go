package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench"
)

// The compatibility suite sends the same commands to redis-server (the
// oracle) and to ringcache, one node and a 3-node cluster of real
// processes, in RESP2 and in RESP3, and compares the replies: byte for
// byte unless a step says otherwise.

// match is how a step's replies are compared.
type match int

const (
	exact     match = iota // the same bytes
	same                   // the same shape: types, map keys, element counts
	kind                   // the same type of reply (a number, a string, ...)
	unordered              // the same elements, in any order
)

// step is one command of a compatibility case; "{k}" in its arguments
// becomes a key prefix of the case's own, so cases and protocols do not
// see each other's keys.
type step struct {
	args  []string
	match match
}

func on(args ...string) step { return step{args: args} }

// compatCases are the commands ringcache implements, with their error
// cases, in the order a session would send them. The oracle is the
// distribution's redis-server (7.0 on Debian 12): CLIENT SETINFO, which
// ringcache answers as Redis 7.2 does, is left out.
var compatCases = []struct {
	name  string
	steps []step
}{
	{"strings", []step{
		on("SET", "{k}a", "1"), on("GET", "{k}a"), on("GET", "{k}missing"),
		on("SET", "{k}a", "2", "GET"), on("SET", "{k}b", "x", "GET"),
		on("SET", "{k}a", "3", "NX"), on("SET", "{k}a", "3", "XX"), on("SET", "{k}c", "3", "XX"), on("SET", "{k}c", "3", "NX", "GET"),
		on("SET", "{k}a", "v", "EX", "100"), on("TTL", "{k}a"), on("SET", "{k}a", "v", "KEEPTTL"), on("TTL", "{k}a"),
		on("SET", "{k}a", "v", "EX", "0"), on("SET", "{k}a", "v", "EX", "x"), on("SET", "{k}a", "v", "EX", "1", "PX", "1"),
		on("SET", "{k}a", "v", "NX", "XX"), on("SET", "{k}a", "v", "BOGUS"), on("SET", "{k}a"),
		on("SETNX", "{k}a", "z"), on("SETNX", "{k}n", "z"), on("SETEX", "{k}e", "100", "v"), on("SETEX", "{k}e", "-1", "v"),
		on("PSETEX", "{k}p", "100000", "v"), on("PSETEX", "{k}p", "0", "v"),
		on("GETDEL", "{k}n"), on("GETDEL", "{k}n"), on("GETEX", "{k}a", "PERSIST"), on("GETEX", "{k}a", "EX", "50"),
		on("TTL", "{k}a"), on("GETEX", "{k}missing"), on("GETEX", "{k}a", "EX", "-5"), on("GETEX", "{k}a", "BOGUS"),
		on("MSET", "{k}m1", "a", "{k}m2", "b"), on("MGET", "{k}m1", "{k}nope", "{k}m2"), on("MSET", "{k}m1"),
		on("APPEND", "{k}ap", "ab"), on("APPEND", "{k}ap", "cd"), on("GET", "{k}ap"), on("STRLEN", "{k}ap"), on("STRLEN", "{k}none"),
		on("GET"), on("MGET"),
	}},
	{"counters", []step{
		on("INCR", "{k}c"), on("INCRBY", "{k}c", "10"), on("DECR", "{k}c"), on("DECRBY", "{k}c", "3"), on("GET", "{k}c"),
		on("INCRBY", "{k}c", "x"), on("SET", "{k}s", "abc"), on("INCR", "{k}s"),
		on("SET", "{k}big", "9223372036854775807"), on("INCR", "{k}big"), on("DECRBY", "{k}c", "-9223372036854775808"),
		on("SET", "{k}sp", " 1"), on("INCR", "{k}sp"), on("INCR", "{k}c", "extra"),
	}},
	{"keys", []step{
		on("SET", "{k}a", "1"), on("SET", "{k}b", "2"), on("EXISTS", "{k}a", "{k}b", "{k}a", "{k}none"),
		on("DEL", "{k}a", "{k}none"), on("UNLINK", "{k}b", "{k}b"), on("EXISTS", "{k}a"),
		on("SET", "{k}t", "v"), on("TTL", "{k}t"), on("PTTL", "{k}t"), on("TTL", "{k}none"), on("PTTL", "{k}none"),
		on("EXPIRE", "{k}t", "100"), on("TTL", "{k}t"), step{[]string{"PTTL", "{k}t"}, kind},
		on("EXPIRE", "{k}t", "200", "NX"), on("EXPIRE", "{k}t", "200", "XX"), on("EXPIRE", "{k}t", "50", "GT"),
		on("EXPIRE", "{k}t", "50", "LT"), on("TTL", "{k}t"), on("EXPIRE", "{k}t", "10", "NX", "XX"), on("EXPIRE", "{k}t", "10", "GT", "LT"),
		on("EXPIRE", "{k}t", "x"), on("EXPIRE", "{k}none", "10"), on("EXPIRE", "{k}t", "10", "BOGUS"),
		on("PEXPIRE", "{k}t", "100000"), on("TTL", "{k}t"), on("PERSIST", "{k}t"), on("PERSIST", "{k}t"), on("TTL", "{k}t"),
		on("EXPIRETIME", "{k}t"), on("PEXPIRETIME", "{k}none"), on("EXPIREAT", "{k}t", "4102444800"), on("EXPIRETIME", "{k}t"),
		on("PEXPIREAT", "{k}t", "4102444800000"), on("PEXPIRETIME", "{k}t"),
		on("EXPIRE", "{k}t", "-1"), on("EXISTS", "{k}t"), on("GET", "{k}t"),
		on("EXPIRE", "{k}t", "9223372036854775807"),
		on("DEL"), on("EXISTS"),
	}},
	{"more strings", []step{
		on("GETSET", "{k}g", "1"), on("GETSET", "{k}g", "2"), on("SET", "{k}gt", "v", "EX", "100"), on("GETSET", "{k}gt", "w"), on("TTL", "{k}gt"),
		on("MSETNX", "{k}x1", "a", "{k}x2", "b"), on("MSETNX", "{k}x2", "c", "{k}x3", "d"), on("MGET", "{k}x1", "{k}x2", "{k}x3"),
		on("MSETNX", "{k}x4", "a", "{k}x4", "b"), on("GET", "{k}x4"), on("MSETNX", "{k}x5"), on("MSETNX", "{k}x5", "a", "{k}x6"),
		on("SET", "{k}r", "Hello World"), on("GETRANGE", "{k}r", "0", "4"), on("GETRANGE", "{k}r", "-5", "-1"), on("GETRANGE", "{k}r", "-1", "-5"),
		on("GETRANGE", "{k}r", "5", "3"), on("GETRANGE", "{k}r", "0", "100"), on("GETRANGE", "{k}r", "-100", "2"), on("GETRANGE", "{k}none", "0", "1"),
		on("GETRANGE", "{k}r", "x", "1"), on("SUBSTR", "{k}r", "6", "-1"), on("GETRANGE", "{k}r", "0"),
		on("SETRANGE", "{k}r", "6", "Redis"), on("GET", "{k}r"), on("SETRANGE", "{k}sr", "5", "x"), on("GET", "{k}sr"),
		on("SETRANGE", "{k}sr2", "3", ""), on("EXISTS", "{k}sr2"), on("SETRANGE", "{k}r", "0", ""), on("SETRANGE", "{k}r", "-1", "x"),
		on("SETRANGE", "{k}r", "536870911", "xx"), on("SETRANGE", "{k}r", "x", "y"),
		on("SETRANGE", "{k}r", "9223372036854775807", "x"), on("SETRANGE", "{k}sr3", "9223372036854775806", "xy"), on("EXISTS", "{k}sr3"),
		on("SET", "{k}tt", "abc", "EX", "100"), on("SETRANGE", "{k}tt", "1", "z"), on("TTL", "{k}tt"),
		on("INCRBYFLOAT", "{k}f", "10.5"), on("INCRBYFLOAT", "{k}f", "0.1"), on("INCRBYFLOAT", "{k}f", "-5.0e3"),
		on("SET", "{k}f2", "0.1"), on("INCRBYFLOAT", "{k}f2", "0.2"), on("INCRBYFLOAT", "{k}f2", "-0.3"),
		on("INCRBYFLOAT", "{k}f3", "3.0e3"), on("INCRBYFLOAT", "{k}f3", "1e-5"), on("INCRBYFLOAT", "{k}f", "abc"),
		on("INCRBYFLOAT", "{k}f", " 1"), on("INCRBYFLOAT", "{k}f", "inf"), on("INCRBYFLOAT", "{k}f", "nan"), on("INCRBYFLOAT", "{k}r", "1"),
		on("INCRBYFLOAT", "{k}f", "infinity"), on("INCRBYFLOAT", "{k}f", "-INFINITY"), on("INCRBYFLOAT", "{k}f", "+-inf"),
		on("SET", "{k}fe", ""), on("INCRBYFLOAT", "{k}fe", "1.5"), on("SET", "{k}fi", "Infinity"), on("INCRBYFLOAT", "{k}fi", "1"),
		on("SET", "{k}f4", "5"), on("INCRBYFLOAT", "{k}f4", "2"), on("INCRBYFLOAT", "{k}f4", "1.23456789012345678"),
		on("INCRBYFLOAT", "{k}f5", "1e308"), on("INCRBYFLOAT", "{k}f5", "1e308"), on("INCRBYFLOAT", "{k}f6", "-0"),
		on("SET", "{k}l1", "ohmytext"), on("SET", "{k}l2", "mynewtext"), on("LCS", "{k}l1", "{k}l2"), on("LCS", "{k}l1", "{k}l2", "LEN"),
		on("LCS", "{k}l1", "{k}l2", "IDX"), on("LCS", "{k}l1", "{k}l2", "IDX", "MINMATCHLEN", "4"),
		on("LCS", "{k}l1", "{k}l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"), on("LCS", "{k}l1", "{k}l2", "IDX", "WITHMATCHLEN"),
		on("LCS", "{k}l1", "{k}l2", "LEN", "IDX"), on("LCS", "{k}l1", "{k}none"), on("LCS", "{k}l1", "{k}l2", "BOGUS"),
		on("LCS", "{k}l1", "{k}l2", "MINMATCHLEN", "x"), on("SET", "{k}l3", "ACCGGTCGAGTGCGCGGAAGCCGGCCGAA"),
		on("SET", "{k}l4", "GTCGTTCGGAATGCCGTTGCTCTGTAAA"), on("LCS", "{k}l3", "{k}l4", "IDX", "WITHMATCHLEN"), on("LCS", "{k}l3", "{k}l4"),
	}},
	{"bits", []step{
		on("SETBIT", "{k}b", "7", "1"), on("SETBIT", "{k}b", "7", "0"), on("SETBIT", "{k}b", "100", "1"), on("GET", "{k}b"),
		on("GETBIT", "{k}b", "100"), on("GETBIT", "{k}b", "101"), on("GETBIT", "{k}b", "100000"), on("GETBIT", "{k}none", "1"),
		on("SETBIT", "{k}b", "-1", "1"), on("SETBIT", "{k}b", "1", "2"), on("SETBIT", "{k}b", "x", "1"), on("GETBIT", "{k}b", "4294967296"),
		on("SETBIT", "{k}b", "4294967296", "1"),
		on("SET", "{k}c", "foobar"), on("BITCOUNT", "{k}c"), on("BITCOUNT", "{k}c", "0", "0"), on("BITCOUNT", "{k}c", "1", "1"),
		on("BITCOUNT", "{k}c", "1", "1", "BYTE"), on("BITCOUNT", "{k}c", "5", "30", "BIT"), on("BITCOUNT", "{k}c", "-3", "-1"),
		on("BITCOUNT", "{k}c", "-1", "-3"), on("BITCOUNT", "{k}c", "-20", "-3", "BIT"), on("BITCOUNT", "{k}c", "0"),
		on("BITCOUNT", "{k}c", "0", "1", "BOGUS"), on("BITCOUNT", "{k}c", "x", "1"), on("BITCOUNT", "{k}none"), on("BITCOUNT", "{k}none", "0"),
		on("BITCOUNT", "{k}c", "100", "200"), on("BITCOUNT", "{k}c", "0", "1", "bit", "x"),
		on("SET", "{k}p", "\xff\xf0\x00"), on("SETRANGE", "{k}p", "0", "\xff\xf0\x00"),
		on("BITPOS", "{k}p", "0"), on("BITPOS", "{k}p", "1"), on("BITPOS", "{k}p", "0", "2"), on("BITPOS", "{k}p", "1", "2"),
		on("BITPOS", "{k}p", "0", "2", "-1", "BYTE"), on("BITPOS", "{k}p", "1", "7", "15", "BIT"), on("BITPOS", "{k}p", "0", "7", "15", "BIT"),
		on("BITPOS", "{k}p", "0", "0", "11", "BIT"), on("BITPOS", "{k}p", "1", "13", "-1", "BIT"),
		on("SET", "{k}ones", "\xff\xff"), on("SETRANGE", "{k}ones", "0", "\xff\xff"), on("BITPOS", "{k}ones", "0"), on("BITPOS", "{k}ones", "0", "0", "-1"),
		on("BITPOS", "{k}ones", "0", "1"), on("BITPOS", "{k}ones", "0", "3", "12", "BIT"), on("BITPOS", "{k}none", "0"), on("BITPOS", "{k}none", "1"),
		on("SET", "{k}empty", ""), on("BITPOS", "{k}empty", "0"), on("BITPOS", "{k}empty", "1"), on("BITCOUNT", "{k}empty"),
		on("BITPOS", "{k}p", "2"), on("BITPOS", "{k}p", "1", "x"), on("BITPOS", "{k}p", "1", "0", "1", "bogus"), on("BITPOS", "{k}p", "1", "0", "1", "bit", "x"),
		on("BITPOS", "{k}c", "1", "-1", "-3"), on("BITPOS", "{k}c", "0", "100"),
		on("SET", "{k}o1", "foobar"), on("SET", "{k}o2", "abcdefghij"), on("BITOP", "AND", "{k}d", "{k}o1", "{k}o2"), on("GET", "{k}d"),
		on("BITOP", "OR", "{k}d", "{k}o1", "{k}o2"), on("GET", "{k}d"), on("BITOP", "XOR", "{k}d", "{k}o1", "{k}o2", "{k}none"), on("GET", "{k}d"),
		on("BITOP", "NOT", "{k}d", "{k}o1"), on("GET", "{k}d"), on("BITOP", "NOT", "{k}d", "{k}o1", "{k}o2"), on("BITOP", "NAND", "{k}d", "{k}o1"),
		on("SET", "{k}d2", "x", "EX", "100"), on("BITOP", "AND", "{k}d2", "{k}none"), on("EXISTS", "{k}d2"), on("BITOP", "AND", "{k}d3", "{k}o1", "{k}none"),
		on("GET", "{k}d3"), on("BITOP", "AND", "{k}d"),
	}},
	{"more keys", []step{
		on("SET", "{k}a", "1"), on("TYPE", "{k}a"), on("TYPE", "{k}none"), on("TOUCH", "{k}a", "{k}none", "{k}a"),
		on("SET", "{k}r", "v", "EX", "100"), on("RENAME", "{k}r", "{k}r2"), on("GET", "{k}r"), on("GET", "{k}r2"), on("TTL", "{k}r2"),
		on("RENAME", "{k}none", "{k}x"), on("RENAME", "{k}r2", "{k}r2"), on("RENAME", "{k}none", "{k}none"), on("RENAME", "{k}a", "{k}r2"), on("TTL", "{k}r2"),
		on("SET", "{k}n1", "1"), on("SET", "{k}n2", "2"), on("RENAMENX", "{k}n1", "{k}n2"), on("RENAMENX", "{k}n1", "{k}n3"),
		on("RENAMENX", "{k}n3", "{k}n3"), on("RENAMENX", "{k}none", "{k}n4"), on("MGET", "{k}n1", "{k}n2", "{k}n3"),
		on("SET", "{k}c", "v", "PX", "100000"), on("COPY", "{k}c", "{k}c2"), on("GET", "{k}c2"), on("TTL", "{k}c2"), on("COPY", "{k}c", "{k}c2"),
		on("SET", "{k}c", "w"), on("COPY", "{k}c", "{k}c2", "REPLACE"), on("GET", "{k}c2"), on("TTL", "{k}c2"), on("COPY", "{k}c", "{k}c"),
		on("COPY", "{k}none", "{k}c3"), on("COPY", "{k}c", "{k}c2", "BOGUS"), on("COPY", "{k}c", "{k}c4", "DB", "0"), on("COPY", "{k}c", "{k}c5", "DB", "x"),
		on("SET", "{k}i", "123"), on("SET", "{k}big", "12345678901234567890123"), on("SET", "{k}s", "hello"), on("SET", "{k}z", "0123"),
		on("SET", "{k}long", strings.Repeat("x", 45)), on("SET", "{k}i2", "20000"),
		on("OBJECT", "ENCODING", "{k}i"), on("OBJECT", "ENCODING", "{k}big"), on("OBJECT", "ENCODING", "{k}s"), on("OBJECT", "ENCODING", "{k}z"),
		on("OBJECT", "ENCODING", "{k}long"), on("OBJECT", "ENCODING", "{k}none"), on("OBJECT", "REFCOUNT", "{k}i"), on("OBJECT", "REFCOUNT", "{k}i2"),
		on("OBJECT", "REFCOUNT", "{k}s"), on("OBJECT", "REFCOUNT", "{k}none"), on("OBJECT", "FREQ", "{k}s"), on("OBJECT", "FREQ", "{k}none"),
		on("OBJECT", "IDLETIME", "{k}none"), step{[]string{"OBJECT", "IDLETIME", "{k}s"}, kind}, on("OBJECT", "BOGUS", "{k}s"), on("OBJECT"),
		step{[]string{"OBJECT", "HELP"}, kind},
		step{[]string{"MEMORY", "USAGE", "{k}s"}, kind}, on("MEMORY", "USAGE", "{k}none"), step{[]string{"MEMORY", "USAGE", "{k}s", "SAMPLES", "5"}, kind},
		on("MEMORY", "USAGE", "{k}s", "BOGUS"), on("MEMORY", "USAGE"),
		// DUMP writes RDB version 9 where redis-server 7.0 writes 10: the
		// same body, another version and checksum (TestDumpMatchesRedis).
		step{[]string{"DUMP", "{k}s"}, same}, step{[]string{"DUMP", "{k}i"}, same}, on("DUMP", "{k}none"), on("RESTORE", "{k}s", "0", "x"), on("RESTORE", "{k}new", "-1", "x"),
		on("RESTORE", "{k}new", "x", "x"), on("RESTORE", "{k}new", "0", "x"), on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a"),
		on("GET", "{k}new"), on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", "REPLACE", "IDLETIME", "5", "FREQ", "3"),
		on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", "REPLACE", "FREQ", "300"),
		on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", "REPLACE", "IDLETIME", "-1"),
		on("RESTORE", "{k}new", "1", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", "REPLACE", "ABSTTL"), on("EXISTS", "{k}new"),
		on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0b"),
		on("RESTORE", "{k}new", "0", "\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", "BOGUS"),
	}},
	{"connection", []step{
		on("PING"), on("PING", "hi"), on("PING", "a", "b"), on("ECHO", "x"), on("ECHO"),
		on("SELECT", "0"), on("SELECT", "x"),
		on("CLIENT", "GETNAME"), on("CLIENT", "SETNAME", "compat"), on("CLIENT", "GETNAME"), on("CLIENT", "SETNAME", "a b"),
		step{[]string{"CLIENT", "ID"}, kind}, step{[]string{"CLIENT", "INFO"}, kind}, step{[]string{"CLIENT", "LIST"}, kind},
		on("CLIENT", "BOGUS"), on("CLIENT"),
		on("CLIENT", "NO-EVICT", "on"), on("CLIENT", "NO-EVICT", "off"), on("CLIENT", "NO-EVICT", "maybe"), on("CLIENT", "REPLY", "maybe"),
		on("CLIENT", "KILL", "127.0.0.1:1"), on("CLIENT", "KILL", "ID", "0"), on("CLIENT", "KILL", "ID", "x"), on("CLIENT", "KILL", "TYPE", "bogus"),
		on("CLIENT", "KILL", "TYPE", "pubsub"), on("CLIENT", "KILL", "USER", "bob"), on("CLIENT", "KILL", "ID", "999999", "SKIPME", "no"),
		on("CLIENT", "KILL", "ID", "1", "TYPE"), on("CLIENT", "KILL", "BOGUS", "1"), on("CLIENT", "KILL", "SKIPME", "maybe"),
		on("CLIENT", "PAUSE", "x"), on("CLIENT", "PAUSE", "-1"), on("CLIENT", "PAUSE", "10", "some"), on("CLIENT", "PAUSE", "1", "WRITE"),
		on("CLIENT", "UNPAUSE"), on("CLIENT", "REPLY", "ON"),
		on("AUTH", "pw"), on("AUTH", "bob", "x"), on("AUTH", "a", "b", "c"),
		on("HELLO", "4"), on("HELLO", "x"), on("HELLO", "2", "bogus"),
		on("BOGUS", "a", "b"), on("bogus"),
		step{[]string{"TIME"}, same},
		step{[]string{"HELLO"}, same}, step{[]string{"HELLO", "3", "SETNAME", "h3"}, same}, on("GET", "{k}none"),
		on("CLIENT", "GETNAME"), on("RESET"), on("GET", "{k}none"), on("CLIENT", "GETNAME"),
		step{[]string{"HELLO", "2", "AUTH", "default", "any"}, same}, on("MGET", "{k}none", "{k}none"),
	}},
	{"server", []step{
		on("CONFIG", "GET", "appendonly"), on("CONFIG", "GET", "maxmemory"), on("CONFIG", "GET", "maxmemory-policy"), on("CONFIG", "GET", "nothing"),
		on("CONFIG", "SET", "maxmemory", "3g"), on("CONFIG", "GET", "maxmemory"), on("CONFIG", "SET", "maxmemory", "3gb"), on("CONFIG", "GET", "maxmemory"),
		on("CONFIG", "SET", "maxmemory", "0"),
		step{[]string{"CONFIG", "SET", "maxmemory", "+2mb"}, kind}, step{[]string{"CONFIG", "SET", "maxmemory", "1 mb"}, kind}, on("CONFIG", "GET", "maxmemory"),
		on("COMMAND", "LIST", "FILTERBY"), on("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), on("COMMAND", "LIST", "BOGUS"),
		step{[]string{"COMMAND", "LIST", "FILTERBY", "PATTERN", "incr*"}, unordered},
		on("CONFIG", "GET"), on("CONFIG", "RESETSTAT"),
		step{[]string{"INFO", "server"}, kind}, step{[]string{"INFO"}, kind},
		step{[]string{"COMMAND", "INFO", "get", "nope"}, kind}, step{[]string{"COMMAND", "DOCS", "get"}, kind},
		step{[]string{"COMMAND", "COUNT"}, kind}, step{[]string{"DBSIZE"}, kind},
		on("COMMAND", "GETKEYS", "SET", "a", "b"), on("COMMAND", "GETKEYS", "MSET", "a", "b", "c", "d"), on("COMMAND", "GETKEYS", "NOPE", "a"),
		on("COMMAND", "GETKEYS", "GET"), on("COMMAND", "GETKEYS", "GET", "a", "b"), on("COMMAND", "GETKEYS", "PING", "x"),
		on("COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"), on("COMMAND", "GETKEYS", "BITOP", "AND", "d", "a", "b"),
		on("COMMAND", "GETKEYS", "LCS", "a", "b"), on("COMMAND", "GETKEYS", "MEMORY", "USAGE", "k"), on("COMMAND", "GETKEYS", "EXPIRE", "k", "1", "NX"),
		on("CONFIG", "SET", "slowlog-max-len", "-1"), on("CONFIG", "SET", "slowlog-log-slower-than", "x"), on("CONFIG", "SET", "databases", "4"),
		on("CONFIG", "SET", "nope", "1"), on("CONFIG", "SET", "slowlog-max-len"), on("CONFIG", "SET", "slowlog-max-len", "5", "slowlog-max-len", "6"),
		on("CONFIG", "SET", "slowlog-max-len", "128", "slowlog-log-slower-than", "10000"), on("CONFIG", "GET", "slowlog-max-len"),
		on("SLOWLOG", "GET", "x"), on("SLOWLOG", "GET", "-5"), on("SLOWLOG", "BOGUS"), on("SLOWLOG", "RESET"), step{[]string{"SLOWLOG", "LEN"}, kind},
		step{[]string{"SLOWLOG", "GET"}, kind}, step{[]string{"SLOWLOG", "HELP"}, kind},
		on("CONFIG", "GET", "latency-monitor-threshold"), on("LATENCY", "LATEST"), on("LATENCY", "HISTORY", "command"),
		on("LATENCY", "RESET"), on("LATENCY", "RESET", "command", "x"), on("LATENCY", "GRAPH", "command"), on("LATENCY", "BOGUS"), on("LATENCY"),
		step{[]string{"LATENCY", "DOCTOR"}, kind}, step{[]string{"LATENCY", "HELP"}, kind},
		on("CONFIG", "SET", "maxclients", "0"), on("CONFIG", "SET", "maxclients", "x"), on("CONFIG", "SET", "maxclients", "10000"),
		on("CONFIG", "SET", "latency-monitor-threshold", "-1"), on("CONFIG", "SET", "latency-monitor-threshold", "x"),
		on("CONFIG", "SET", "slowlog-log-slower-than", "-5"), on("CONFIG", "SET", "timeout", "-1"), on("CONFIG", "SET", "timeout", "01"),
		on("CONFIG", "SET", "timeout", "abc"), on("CONFIG", "SET", "timeout", "0"), on("CONFIG", "GET", "timeout"),
		on("CONFIG", "SET", "protected-mode", "maybe"), on("CONFIG", "SET", "protected-mode", "YES"), on("CONFIG", "GET", "protected-mode"),
		on("CONFIG", "SET", "proto-max-bulk-len", "100"), on("CONFIG", "SET", "proto-max-bulk-len", "abc"), on("CONFIG", "SET", "proto-max-bulk-len", "-1"),
		on("CONFIG", "SET", "proto-max-bulk-len", "+2mb"), on("CONFIG", "SET", "proto-max-bulk-len", "mb"), on("CONFIG", "SET", "proto-max-bulk-len", "1000k"),
		on("CONFIG", "SET", "proto-max-bulk-len", "9999999999gb"), on("CONFIG", "SET", "proto-max-bulk-len", "99999999999999999999"),
		on("CONFIG", "SET", "proto-max-bulk-len", "01MB"), on("CONFIG", "GET", "proto-max-bulk-len"), on("CONFIG", "SET", "proto-max-bulk-len", "512mb"),
		on("CONFIG", "SET", "client-query-buffer-limit", "100"), on("CONFIG", "SET", "client-query-buffer-limit", "1gb"), on("CONFIG", "GET", "client-query-buffer-limit"),
		on("WAIT", "x", "0"), on("WAIT", "0", "x"), on("WAIT", "0", "-1"), on("WAIT", "0"), step{[]string{"WAIT", "0", "0"}, kind},
		on("SAVE"), step{[]string{"LASTSAVE"}, kind}, on("SAVE", "x"), on("BGSAVE", "x"), on("LASTSAVE", "x"),
		on("SHUTDOWN", "ABORT"), on("SHUTDOWN", "SAVE", "NOSAVE"), on("SHUTDOWN", "BOGUS"), on("SHUTDOWN", "ABORT", "NOW"),
	}},
	// Databases: a key of database n is another key than in database 0.
	// Database 9 is this case's alone (emptied at its start and end), so
	// its DBSIZE, SCAN and KEYS answer the same everywhere (a cluster
	// counts a small database by scanning it: exact right after writes).
	{"databases", []step{
		on("SELECT", "16"), on("SELECT", "-1"), on("SELECT", "15"), on("SELECT", "9"), on("FLUSHDB"),
		on("SET", "{k}a", "in9"), on("GET", "{k}a"), on("SELECT", "0"), on("GET", "{k}a"), on("SET", "{k}a", "in0"),
		on("SELECT", "9"), on("GET", "{k}a"), on("MSET", "{k}b", "1", "{k}c", "2"), on("SET", "{k}t", "x", "EX", "100"),
		on("DBSIZE"), on(scanAll, "MATCH", "*"), step{[]string{"KEYS", "*"}, unordered}, on("EXISTS", "{k}a", "{k}b", "{k}zz"),
		on("INCR", "{k}b"), on("APPEND", "{k}c", "x"), on("GET", "{k}c"), on("TTL", "{k}t"),
		on("MOVE", "{k}a", "0"), on("MOVE", "{k}b", "0"), on("GET", "{k}b"), on("MOVE", "{k}b", "9"), on("MOVE", "{k}b", "16"),
		on("MOVE", "{k}b", "x"), on("MOVE", "{k}nope", "0"), on("MOVE", "{k}t", "3"), on("GET", "{k}t"),
		on("SELECT", "3"), on("GET", "{k}t"), on("TTL", "{k}t"), on("DEL", "{k}t"), on("SELECT", "0"), on("GET", "{k}b"), on("DEL", "{k}b"),
		on("SELECT", "9"), on("COPY", "{k}c", "{k}c", "DB", "9"), on("COPY", "{k}c", "{k}c", "DB", "4"), on("COPY", "{k}c", "{k}c", "DB", "4"),
		on("COPY", "{k}c", "{k}c", "DB", "4", "REPLACE"), on("COPY", "{k}c", "{k}d", "DB", "16"), on("SELECT", "4"), on("GET", "{k}c"), on("DEL", "{k}c"),
		on("SELECT", "9"), on("RENAME", "{k}c", "{k}e"), on("GET", "{k}e"), on("SELECT", "0"), on("GET", "{k}e"), on("GET", "{k}a"),
		on("SWAPDB", "x", "1"), on("SWAPDB", "1", "x"), on("SWAPDB", "1", "99"),
		on("SELECT", "9"), on("DBSIZE"), on("FLUSHDB"), on("DBSIZE"), on("KEYS", "*"), on("SELECT", "0"), on("GET", "{k}a"),
	}},
	// Listing keys: the case's keys are the only ones under its prefix, so
	// KEYS and a whole SCAN of "{k}..." patterns answer the same sets on
	// every server (in another order: compared sorted).
	{"listing", []step{
		on("MSET", "{k}user:1", "a", "{k}user:2", "b", "{k}user:10", "c", "{k}post:1", "d", "{k}hello", "e", "{k}hallo", "f",
			"{k}h?llo", "g", "{k}a*b", "h", "{k}[x]", "i", "{k}-", "j", "{k}\\", "k"),
		on("SET", "{k}gone", "x"), on("DEL", "{k}gone"),
		step{[]string{"KEYS", "{k}*"}, unordered}, step{[]string{"KEYS", "{k}user:*"}, unordered},
		step{[]string{"KEYS", "{k}user:?"}, unordered}, step{[]string{"KEYS", "{k}user:[0-9]"}, unordered},
		step{[]string{"KEYS", "{k}user:[^1]*"}, unordered}, step{[]string{"KEYS", "{k}h?llo"}, unordered},
		step{[]string{"KEYS", "{k}h\\?llo"}, unordered}, step{[]string{"KEYS", "{k}h[ae]llo"}, unordered},
		step{[]string{"KEYS", "{k}h[a-e]llo"}, unordered}, step{[]string{"KEYS", "{k}a\\*b"}, unordered},
		step{[]string{"KEYS", "{k}\\[x]"}, unordered}, step{[]string{"KEYS", "{k}[-a]"}, unordered},
		step{[]string{"KEYS", "{k}[a-]"}, unordered}, step{[]string{"KEYS", "{k}[\\]"}, unordered},
		step{[]string{"KEYS", "{k}*[0-9"}, unordered}, step{[]string{"KEYS", "{k}nothing*"}, unordered},
		on(scanAll, "MATCH", "{k}*"), on(scanAll, "MATCH", "{k}user:*", "COUNT", "3"), on(scanAll, "MATCH", "{k}*", "COUNT", "1000"),
		on(scanAll, "MATCH", "{k}*", "TYPE", "string"), on(scanAll, "MATCH", "{k}*", "TYPE", "STRING"), on(scanAll, "MATCH", "{k}*", "TYPE", "list"),
		on(scanAll, "COUNT", "5", "MATCH", "{k}h*"),
		step{[]string{"SCAN", "0"}, kind}, step{[]string{"SCAN", "0", "MATCH", "{k}*", "COUNT", "2"}, kind},
		on("SCAN", "x"), on("SCAN", "18446744073709551616"), step{[]string{"SCAN", "-1"}, kind}, on("SCAN", "-"), on("SCAN", "+"), on("SCAN", " 1"), on("SCAN", "1a"), on("SCAN", "0", "COUNT", "0"), on("SCAN", "0", "COUNT", "-1"),
		on("SCAN", "0", "COUNT", "x"), on("SCAN", "0", "MATCH"), on("SCAN", "0", "BOGUS", "x"), on("SCAN"),
		on("KEYS"), on("KEYS", "a", "b"), step{[]string{"RANDOMKEY"}, kind}, on("RANDOMKEY", "x"),
	}},
	{"transactions", []step{
		on("MULTI"), on("SET", "{k}t1", "a"), on("INCR", "{k}t1"), on("GET", "{k}t1"), on("APPEND", "{k}t1", "b"), on("EXEC"),
		on("EXEC"), on("DISCARD"), on("UNWATCH"), on("WATCH"),
		on("MULTI"), on("MULTI"), on("WATCH", "{k}x"), on("SET", "{k}t2", "b"), on("EXEC"), on("GET", "{k}t2"),
		on("MULTI"), on("NOSUCHCMD", "x"), on("SET", "{k}t3", "c"), on("EXEC"), on("GET", "{k}t3"),
		on("MULTI"), on("SET", "{k}t3"), on("EXEC"),
		on("MULTI"), on("SET", "{k}t4", "d"), on("DISCARD"), on("GET", "{k}t4"), on("EXEC"),
		on("MULTI"), on("EXEC"),
		on("MULTI"), on("SET", "{k}t5", "e"), on("EXEC", "extra"), on("EXEC"), on("GET", "{k}t5"),
		on("MULTI"), on("PING"), on("ECHO", "hi"), on("MSET", "{k}m1", "1", "{k}m2", "2"), on("MGET", "{k}m1", "{k}m2"),
		on("INCRBY", "{k}m1", "5"), on("SET", "{k}m2", "x", "NX"), on("GETDEL", "{k}m2"), on("EXISTS", "{k}m1", "{k}m2"), on("EXEC"),
		on("MULTI"), on("MONITOR"), on("EXEC"),
		on("SET", "{k}w", "0"), on("WATCH", "{k}w"), on("SET", "{k}w", "1"), on("MULTI"), on("GET", "{k}w"), on("EXEC"),
		on("WATCH", "{k}w"), on("MULTI"), on("INCR", "{k}w"), on("EXEC"), on("GET", "{k}w"),
		on("WATCH", "{k}w", "{k}nokey"), on("UNWATCH"), on("SET", "{k}w", "5"), on("MULTI"), on("GET", "{k}w"), on("EXEC"),
		on("WATCH", "{k}nokey2"), on("MULTI"), on("SET", "{k}nokey2", "v"), on("EXEC"),
		on("WATCH", "{k}w"), on("MULTI"), on("DEL", "{k}w"), on("DISCARD"), on("SET", "{k}w", "6"), on("MULTI"), on("GET", "{k}w"), on("EXEC"),
		on("MULTI"), on("SELECT", "2"), on("SET", "{k}db", "two"), on("SELECT", "0"), on("GET", "{k}db"), on("EXEC"),
		on("SELECT", "2"), on("GET", "{k}db"), on("DEL", "{k}db"), on("SELECT", "0"),
		on("MULTI"), on("SET", "{k}r", "1"), on("RESET"), on("EXEC"),
		// Writes that change nothing do not abort a WATCH.
		on("SET", "{k}bits", "\x00"), on("WATCH", "{k}bits"), on("SETBIT", "{k}bits", "0", "0"), on("MULTI"), on("GET", "{k}bits"), on("EXEC"),
		on("WATCH", "{k}bits"), on("SETBIT", "{k}bits", "1", "1"), on("MULTI"), on("GET", "{k}bits"), on("EXEC"),
		on("WATCH", "{k}bnew"), on("BITOP", "OR", "{k}bnew", "{k}nosrc"), on("MULTI"), on("EXISTS", "{k}bnew"), on("EXEC"),
		on("WATCH", "{k}bits"), on("BITOP", "OR", "{k}bits", "{k}nosrc"), on("MULTI"), on("EXISTS", "{k}bits"), on("EXEC"),
	}},
	// Keys of one script share the hash tag {t}, as Redis Cluster requires.
	{"scripts", []step{
		// Argument errors come in redis-server's order: an EVALSHA whose
		// SHA1 is not 40 characters long is NOSCRIPT before numkeys is
		// read; otherwise numkeys comes before the script.
		on("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "-1"), on("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "5", "a"),
		on("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "notanumber"), on("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"),
		on("EVALSHA", "abc", "-1"), on("EVALSHA", "abc", "5", "a"), on("EVALSHA", "abc", "notanumber"), on("EVALSHA", "", "x"),
		on("EVALSHA_RO", "abc", "-1"), on("EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "-1"),
		on("EVAL", "return 1", "-1"), on("EVAL", "return 1", "5", "a"), on("EVAL", "return 1", "notanumber"),
		on("EVAL", "return x y", "-1"), on("EVAL", "#!lua flags=bogus\nreturn 1", "2", "a"), on("EVAL_RO", "return 1", "-1"),
		on("EVAL", "return 1", "9223372036854775808"),
		on("EVAL", "return {1, 'two', 3.7, true, false, nil, 5}", "0"),
		on("EVAL", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "1", "{k}{t}a", "x", "y"),
		on("EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "{k}{t}a", "v1"),
		on("EVAL", "return redis.call('GET', KEYS[1])", "1", "{k}{t}a"),
		on("EVAL", "return redis.call('GET', KEYS[1])", "1", "{k}{t}missing"),
		on("EVAL", "return redis.call('INCR', KEYS[1])", "1", "{k}{t}a"),
		on("EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "{k}{t}a"),
		on("EVAL", "local r = redis.pcall('INCR', KEYS[1]); return r['err']", "1", "{k}{t}a"),
		on("EVAL", "return redis.call('NOSUCH')", "0"),
		on("EVAL", "return redis.call('GET')", "0"),
		on("EVAL", "return redis.call('MULTI')", "0"),
		on("EVAL", "return redis.call('CONFIG', 'GET', 'maxmemory')", "0"), on("EVAL", "return redis.call('CONFIG', 'SET', 'maxmemory', '0')", "0"),
		on("EVAL", "return redis.call('CLIENT', 'ID')", "0"), on("EVAL", "return redis.call('CLIENT', 'SETNAME', 'x')", "0"),
		on("EVAL", "return redis.call('LATENCY', 'LATEST')", "0"), on("EVAL", "return redis.call('QUIT')", "0"),
		on("EVAL", "return redis.call('SLOWLOG', 'LEN') >= 0", "0"),
		on("EVAL", "return redis.error_reply('MY error')", "0"),
		on("EVAL", "return redis.status_reply('FINE')", "0"),
		on("EVAL", "return {err='ERR custom'}", "0"),
		on("EVAL", "error('boom')", "0"),
		on("EVAL", "x = 1", "0"),
		on("EVAL", "return y", "0"),
		on("EVAL", "return os.time()", "0"),
		on("EVAL", "return redis.sha1hex('abc')", "0"),
		on("EVAL", "return cjson.encode({a=1})", "0"),
		on("EVAL", "return cjson.decode('[1,2,\"x\"]')", "0"),
		on("EVAL", "return bit.band(0xff, 0x0f)", "0"),
		on("EVAL", "return 1", "-1"), on("EVAL", "return 1", "2", "a"), on("EVAL", "return 1", "x"), on("EVAL", "return 1"),
		step{[]string{"EVAL", "return (", "0"}, kind}, // gopher-lua words syntax errors its own way
		on("EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", "1", "{k}{t}a"),
		on("EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "{k}{t}a"),
		on("SCRIPT", "LOAD", "return redis.call('INCRBY', KEYS[1], ARGV[1])"),
		on("EVALSHA", "f1c9b7a1f0f8f1b0fd3b2df8b2e12dc08d4d3c1c", "0"),
		on("SCRIPT", "EXISTS", "6c9b22b6b0e4bd8d6a8c0c09c4e3d1d2e10b6c16", "0000000000000000000000000000000000000000"),
		on("EVAL", "redis.setresp(3); return redis.call('HELLO', '3')['proto']", "0"),
		on("EVAL", "redis.setresp(3); return {redis.call('GET', KEYS[1]) == nil, redis.call('EXISTS', KEYS[1])}", "1", "{k}{t}missing"),
		on("EVAL", "redis.setresp(3); return {double=3.5}", "0"),
		on("EVAL", "return {map={a=1}}", "0"),
		on("MULTI"), on("EVAL", "return redis.call('INCR', KEYS[1])", "1", "{k}{t}n"), on("INCR", "{k}{t}n"), on("EXEC"),
		on("SCRIPT", "FLUSH"), on("SCRIPT", "FLUSH", "ASYNC"), on("SCRIPT", "FLUSH", "BAD"),
		on("SCRIPT", "KILL"), on("SCRIPT", "BOGUS"),
	}},
}

// scanAll, as a step's command, runs SCAN with the step's options from
// cursor 0 until it returns 0, and answers with the keys it returned,
// sorted and deduplicated, as an array.
const scanAll = "@SCANALL"

// compatTarget is one server the suite talks to.
type compatTarget struct {
	name string
	addr string
}

// startCompatTargets starts redis-server (the oracle) and the ringcache
// targets: one node, and a 3-node cluster reached through its second node.
func startCompatTargets(t *testing.T) (oracle string, targets []compatTarget) {
	t.Helper()
	needTool(t, "redis-server")
	rs := bench.NewRedisTarget("compat-redis", "redis-server", "--appendonly", "no")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	oracle, _, err := rs.Start(ctx)
	t.Cleanup(func() { _ = rs.Stop(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	one := freeAddr(t)
	startNode(t, one, "--data-dir", t.TempDir())
	cl := startProcCluster(t, 3)
	return oracle, []compatTarget{{"one node", one}, {"3-node cluster", cl.nodes[1].client}}
}

func TestCompatibilityWithRedis(t *testing.T) {
	raddr, targets := startCompatTargets(t)
	for _, proto := range []string{"2", "3"} {
		for _, cs := range compatCases {
			prefix := fmt.Sprintf("compat:%s:%s:", proto, cs.name)
			want := runCompat(t, raddr, proto, prefix, cs.steps)
			for _, tg := range targets {
				got := runCompat(t, tg.addr, proto, prefix, cs.steps)
				for i, st := range cs.steps {
					if err := compareReplies(st.match, got[i], want[i]); err != nil {
						t.Errorf("RESP%s %s, %s: %s: %v\n  redis-server: %q\n  ringcache:    %q",
							proto, tg.name, cs.name, strings.Join(st.args, " "), err, want[i], got[i])
					}
				}
			}
		}
	}
}

// runCompat runs steps on one connection in protocol proto and returns
// each reply's bytes.
func runCompat(t *testing.T, addr, proto, prefix string, steps []step) [][]byte {
	t.Helper()
	c, err := dialRESP(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hello, err := c.do("HELLO", proto); err != nil || hello[0] == '-' {
		t.Fatalf("HELLO %s to %s: %q, %v", proto, addr, hello, err)
	}
	out := make([][]byte, len(steps))
	for i, st := range steps {
		args := make([]string, len(st.args))
		for j, a := range st.args {
			args[j] = strings.ReplaceAll(a, "{k}", prefix)
		}
		if args[0] == scanAll {
			out[i], err = c.scanAll(args[1:])
		} else {
			out[i], err = c.do(args...)
		}
		if err != nil {
			t.Fatalf("%s to %s: %v", strings.Join(args, " "), addr, err)
		}
	}
	return out
}

func compareReplies(m match, got, want []byte) error {
	if m == exact {
		if string(got) != string(want) {
			return fmt.Errorf("differs")
		}
		return nil
	}
	g, err := parseReply(got)
	if err != nil {
		return err
	}
	w, err := parseReply(want)
	if err != nil {
		return err
	}
	switch {
	case m == unordered:
		if g.kind != w.kind || len(g.elems) != len(w.elems) {
			return fmt.Errorf("%c of %d elements, want %c of %d", g.kind, len(g.elems), w.kind, len(w.elems))
		}
		texts := func(r *reply) []string {
			var s []string
			for _, e := range r.elems {
				s = append(s, e.text)
			}
			slices.Sort(s)
			return s
		}
		if !slices.Equal(texts(g), texts(w)) {
			return fmt.Errorf("other elements")
		}
	case m == kind && (g.kind != w.kind || g.null != w.null):
		return fmt.Errorf("a reply of type %q, want %q", g.kind, w.kind)
	case m == same && shape(g) != shape(w):
		return fmt.Errorf("shape %s, want %s", shape(g), shape(w))
	}
	return nil
}

// TestDumpRestoreWithRedis moves values both ways between redis-server and
// ringcache (one node, and a cluster) with DUMP and RESTORE: short strings,
// integers, long compressible ones (which Redis sends LZF-compressed),
// binary and a 1 MB value, with a TTL.
func TestDumpRestoreWithRedis(t *testing.T) {
	oracle, targets := startCompatTargets(t)
	ctx := context.Background()
	rs := redis.NewClient(&redis.Options{Addr: oracle})
	defer rs.Close()
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i*7 + i/13)
	}
	values := map[string]string{
		"short": "hello", "int": "123", "negative": "-129", "big-int": "12345678901", "empty": "",
		"compressible": strings.Repeat("ab", 5000), "binary": string(bin), "mb": strings.Repeat("0123456789abcdef", 1<<16),
	}
	for _, tg := range targets {
		rc := redis.NewClient(&redis.Options{Addr: tg.addr})
		defer rc.Close()
		for name, v := range values {
			from, to := "dump:from-redis:"+name, "dump:from-ringcache:"+name
			if err := rs.Set(ctx, from, v, 0).Err(); err != nil {
				t.Fatal(err)
			}
			payload, err := rs.Dump(ctx, from).Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.RestoreReplace(ctx, from, time.Hour, payload).Err(); err != nil {
				t.Fatalf("%s: RESTORE of redis-server's %s payload: %v", tg.name, name, err)
			}
			if got := rc.Get(ctx, from).Val(); got != v {
				t.Fatalf("%s: %s restored from redis-server reads %d bytes, want %d", tg.name, name, len(got), len(v))
			}
			if ttl := rc.TTL(ctx, from).Val(); ttl < 59*time.Minute {
				t.Fatalf("%s: %s restored with TTL %v", tg.name, name, ttl)
			}
			if err := rc.Set(ctx, to, v, 0).Err(); err != nil {
				t.Fatal(err)
			}
			mine, err := rc.Dump(ctx, to).Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := rs.RestoreReplace(ctx, to, 0, mine).Err(); err != nil {
				t.Fatalf("%s: redis-server RESTORE of ringcache's %s payload: %v", tg.name, name, err)
			}
			if got := rs.Get(ctx, to).Val(); got != v {
				t.Fatalf("%s: %s restored into redis-server reads %d bytes, want %d", tg.name, name, len(got), len(v))
			}
		}
	}
}

// TestCommandTableMatchesRedis: every command and subcommand both servers
// have is described alike by COMMAND: arity, flags, key positions and ACL
// categories (clients and proxies read them to route and to allow).
func TestCommandTableMatchesRedis(t *testing.T) {
	oracle, targets := startCompatTargets(t)
	want := commandTable(t, oracle)
	got := commandTable(t, targets[0].addr)
	shared := 0
	for name, g := range got {
		w, ok := want[name]
		if !ok {
			continue // ringcache's own, or newer than this redis-server
		}
		shared++
		if g != w {
			t.Errorf("COMMAND %s:\n  redis-server: %s\n  ringcache:    %s", name, w, g)
		}
	}
	if shared < 80 {
		t.Fatalf("only %d commands in common", shared)
	}
}

// commandTable returns COMMAND's description of every command and
// subcommand at addr, by name: arity, sorted flags, key positions and
// sorted ACL categories.
func commandTable(t *testing.T, addr string) map[string]string {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer cl.Close()
	all, err := cl.Do(context.Background(), "COMMAND").Slice()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(e []any)
	walk = func(e []any) {
		strs := func(v any) string {
			var s []string
			for _, x := range v.([]any) {
				s = append(s, fmt.Sprint(x))
			}
			slices.Sort(s)
			return strings.Join(s, " ")
		}
		out[fmt.Sprint(e[0])] = fmt.Sprintf("arity %v flags [%s] keys %v %v %v acl [%s]", e[1], strs(e[2]), e[3], e[4], e[5], strs(e[6]))
		for _, sub := range e[9].([]any) {
			walk(sub.([]any))
		}
	}
	for _, e := range all {
		walk(e.([]any))
	}
	return out
}
