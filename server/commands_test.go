package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/server/store"
)

// step is one command and its expected reply: a value (string, int64, nil,
// []any) or an error text "ERR ..." given as errText.
type step struct {
	args    []any
	want    any
	errText string
}

func run(t *testing.T, c *redis.Client, steps []step) {
	t.Helper()
	ctx := context.Background()
	for _, s := range steps {
		got, err := c.Do(ctx, s.args...).Result()
		if s.errText != "" {
			if err == nil || err.Error() != s.errText {
				t.Errorf("%v: got %v, %v; want error %q", s.args, got, err, s.errText)
			}
			continue
		}
		if err == redis.Nil {
			got, err = nil, nil
		}
		if err != nil {
			t.Errorf("%v: unexpected error %v", s.args, err)
			continue
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("%v: got %#v, want %#v", s.args, got, s.want)
		}
	}
}

func a(args ...any) []any { return args }

func TestStringCommands(t *testing.T) {
	// A frozen clock: TTL replies must not depend on how long the steps
	// take (PTTL right after PSETEX 100000 read 99999 on a slow run).
	cfg := DefaultConfig()
	frozen := time.Now()
	cfg.Now = func() time.Time { return frozen }
	ts := startServer(t, cfg, nil)
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("get", "k"), want: nil},
		{args: a("set", "k", "v"), want: "OK"},
		{args: a("GET", "k"), want: "v"},
		{args: a("set", "k", "v2", "nx"), want: nil},
		{args: a("set", "k", "v2", "xx"), want: "OK"},
		{args: a("set", "n", "v", "xx"), want: nil},
		{args: a("set", "k", "v3", "get"), want: "v2"},
		{args: a("set", "new", "x", "get"), want: nil},
		{args: a("set", "k", "v4", "nx", "get"), want: "v3"},
		{args: a("get", "k"), want: "v3"},
		{args: a("set", "k", "v", "nx", "xx"), errText: "ERR syntax error"},
		{args: a("set", "k", "v", "ex", "0"), errText: "ERR invalid expire time in 'set' command"},
		{args: a("set", "k", "v", "ex", "x"), errText: "ERR value is not an integer or out of range"},
		{args: a("set", "k", "v", "keepttl", "px", "5"), errText: "ERR syntax error"},
		{args: a("set", "k"), errText: "ERR wrong number of arguments for 'set' command"},
		{args: a("setnx", "k", "x"), want: int64(0)},
		{args: a("setnx", "sn", "x"), want: int64(1)},
		{args: a("setex", "se", "100", "v"), want: "OK"},
		{args: a("ttl", "se"), want: int64(100)},
		{args: a("setex", "se", "0", "v"), errText: "ERR invalid expire time in 'setex' command"},
		{args: a("psetex", "pse", "100000", "v"), want: "OK"},
		{args: a("pttl", "pse"), want: int64(100000)},
		{args: a("psetex", "pse", "-1", "v"), errText: "ERR invalid expire time in 'psetex' command"},
		{args: a("getdel", "sn"), want: "x"},
		{args: a("getdel", "sn"), want: nil},
		{args: a("mset", "m1", "1", "m2", "2"), want: "OK"},
		{args: a("mset", "m1", "1", "m2"), errText: "ERR wrong number of arguments for 'mset' command"},
		{args: a("mget", "m1", "nope", "m2"), want: []any{"1", nil, "2"}},
		{args: a("mset", "d", "1", "d", "2"), want: "OK"},
		{args: a("get", "d"), want: "2"},
		{args: a("incr", "i"), want: int64(1)},
		{args: a("incrby", "i", "10"), want: int64(11)},
		{args: a("decr", "i"), want: int64(10)},
		{args: a("decrby", "i", "20"), want: int64(-10)},
		{args: a("incrby", "i", "x"), errText: "ERR value is not an integer or out of range"},
		{args: a("incr", "k"), errText: "ERR value is not an integer or out of range"},
		{args: a("set", "big", "9223372036854775807"), want: "OK"},
		{args: a("incr", "big"), errText: "ERR increment or decrement would overflow"},
		{args: a("decrby", "i", "-9223372036854775808"), errText: "ERR decrement would overflow"},
		{args: a("set", "sp", " 1"), want: "OK"},
		{args: a("incr", "sp"), errText: "ERR value is not an integer or out of range"},
		{args: a("append", "ap", "ab"), want: int64(2)},
		{args: a("append", "ap", "cd"), want: int64(4)},
		{args: a("get", "ap"), want: "abcd"},
		{args: a("strlen", "ap"), want: int64(4)},
		{args: a("strlen", "none"), want: int64(0)},
		{args: a("getex", "ap"), want: "abcd"},
		{args: a("getex", "ap", "ex", "100"), want: "abcd"},
		{args: a("ttl", "ap"), want: int64(100)},
		{args: a("getex", "ap", "persist"), want: "abcd"},
		{args: a("ttl", "ap"), want: int64(-1)},
		{args: a("getex", "ap", "pxat", "1"), want: "abcd"},
		{args: a("get", "ap"), want: nil},
		{args: a("getex", "none", "ex", "5"), want: nil},
		{args: a("getex", "k", "persist", "ex", "1"), errText: "ERR syntax error"},
		{args: a("getex", "k", "ex", "-1"), errText: "ERR invalid expire time in 'getex' command"},
	})
}

func TestKeyCommands(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("mset", "a", "1", "b", "2", "c", "3"), want: "OK"},
		{args: a("exists", "a", "a", "x", "b"), want: int64(3)},
		{args: a("del", "a", "a", "x"), want: int64(1)},
		{args: a("exists", "a"), want: int64(0)},
		{args: a("ttl", "a"), want: int64(-2)},
		{args: a("ttl", "b"), want: int64(-1)},
		{args: a("pttl", "b"), want: int64(-1)},
		{args: a("expiretime", "b"), want: int64(-1)},
		{args: a("expiretime", "a"), want: int64(-2)},
		{args: a("expire", "a", "10"), want: int64(0)},
		{args: a("expire", "b", "100"), want: int64(1)},
		{args: a("ttl", "b"), want: int64(100)},
		{args: a("expire", "b", "50", "nx"), want: int64(0)},
		{args: a("expire", "b", "50", "gt"), want: int64(0)},
		{args: a("expire", "b", "200", "gt"), want: int64(1)},
		{args: a("expire", "b", "300", "lt"), want: int64(0)},
		{args: a("expire", "b", "150", "lt"), want: int64(1)},
		{args: a("expire", "c", "10", "xx"), want: int64(0)},
		{args: a("expire", "c", "10", "gt"), want: int64(0)},
		{args: a("expire", "c", "10", "lt"), want: int64(1)},
		{args: a("persist", "c"), want: int64(1)},
		{args: a("persist", "c"), want: int64(0)},
		{args: a("persist", "nope"), want: int64(0)},
		{args: a("expire", "c", "10", "nx", "xx"), errText: "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{args: a("expire", "c", "10", "gt", "lt"), errText: "ERR GT and LT options at the same time are not compatible"},
		{args: a("expire", "c", "10", "bogus"), errText: "ERR Unsupported option bogus"},
		{args: a("expire", "c", "x"), errText: "ERR value is not an integer or out of range"},
		{args: a("expire", "c", "9223372036854775807"), errText: "ERR invalid expire time in 'expire' command"},
		{args: a("pexpireat", "c", "4102444800000"), want: int64(1)},
		{args: a("pexpiretime", "c"), want: int64(4102444800000)},
		{args: a("expiretime", "c"), want: int64(4102444800)},
		{args: a("expireat", "c", "4102444801"), want: int64(1)},
		{args: a("pexpiretime", "c"), want: int64(4102444801000)},
		{args: a("pexpire", "c", "-1"), want: int64(1)}, // past: deletes
		{args: a("exists", "c"), want: int64(0)},
		{args: a("expire", "b", "-5"), want: int64(1)},
		{args: a("get", "b"), want: nil},
		{args: a("dbsize"), want: int64(0)},
		{args: a("mset", "x", "1", "y", "2"), want: "OK"},
		{args: a("dbsize"), want: int64(2)},
		{args: a("flushdb"), want: "OK"},
		{args: a("dbsize"), want: int64(0)},
		{args: a("flushall", "async"), want: "OK"},
		{args: a("flushall", "sync"), want: "OK"},
		{args: a("flushall", "bogus"), errText: "ERR syntax error"},
		{args: a("flushdb", "async", "sync"), errText: "ERR syntax error"},
	})
	if got := ts.Stats().ExpiredKeys; got < 2 {
		t.Errorf("ExpiredKeys = %d, want >= 2", got)
	}
}

func TestConnectionCommands(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, &redis.Options{ClientName: "tester", Protocol: 2})
	id, err := c.Do(context.Background(), "client", "id").Int64()
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, []step{
		{args: a("ping"), want: "PONG"},
		{args: a("ping", "hi"), want: "hi"},
		{args: a("ping", "a", "b"), errText: "ERR wrong number of arguments for 'ping' command"},
		{args: a("echo", "x"), want: "x"},
		{args: a("echo"), errText: "ERR wrong number of arguments for 'echo' command"},
		{args: a("select", "0"), want: "OK"},
		{args: a("select", "16"), errText: "ERR DB index is out of range"}, {args: a("select", "15"), want: "OK"}, {args: a("select", "0"), want: "OK"},
		{args: a("select", "x"), errText: "ERR value is not an integer or out of range"},
		{args: a("client", "getname"), want: "tester"},
		{args: a("client", "setname", "other"), want: "OK"},
		{args: a("client", "getname"), want: "other"},
		{args: a("client", "setname", "a b"), errText: "ERR Client names cannot contain spaces, newlines or special characters."},
		{args: a("client", "setinfo", "lib-name", "mylib"), want: "OK"},
		{args: a("client", "setinfo", "bogus", "x"), errText: "ERR Unrecognized option 'bogus'"},
		{args: a("client", "bogus"), errText: "ERR unknown subcommand 'bogus'. Try CLIENT HELP."},
		{args: a("client"), errText: "ERR wrong number of arguments for 'client' command"},
		{args: a("client", "setname"), errText: "ERR wrong number of arguments for 'client|setname' command"},
		{args: a("hello", "4"), errText: "NOPROTO unsupported protocol version"},
		{args: a("hello", "x"), errText: "ERR Protocol version is not an integer or out of range"},
		{args: a("hello", "2", "bogus"), errText: "ERR Syntax error in HELLO option 'bogus'"},
		{args: a("hello", "2", "setname", "h"), want: []any{"server", "redis", "version", "7.2.0", "proto", int64(2),
			"id", id, "mode", "standalone", "role", "master", "modules", []any{}}},
		{args: a("client", "getname"), want: "h"},
		{args: a("auth", "pw"), errText: "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"},
		{args: a("auth", "default", "anything"), want: "OK"},
		{args: a("auth", "bob", "anything"), errText: "WRONGPASS invalid username-password pair or user is disabled."},
		{args: a("auth", "a", "b", "c"), errText: "ERR syntax error"},
		{args: a("foo", "a", "b"), errText: "ERR unknown command 'foo', with args beginning with: 'a' 'b' "},
		{args: a("FOO"), errText: "ERR unknown command 'FOO', with args beginning with: "},
		{args: a("reset"), want: "RESET"},
		{args: a("client", "getname"), want: nil},
	})
	info, err := c.ClientInfo(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != id || info.LibName != "mylib" || !strings.HasPrefix(info.LAddr, "127.0.0.1:") {
		t.Errorf("CLIENT INFO = %+v", info)
	}
	list, err := c.ClientList(context.Background()).Result()
	if err != nil || !strings.Contains(list, fmt.Sprintf("id=%d ", id)) {
		t.Errorf("CLIENT LIST = %q, %v", list, err)
	}
	tm, err := c.Time(context.Background()).Result()
	if err != nil || time.Since(tm).Abs() > time.Minute {
		t.Errorf("TIME = %v, %v", tm, err)
	}
}

// TestGoRedisHandshake: a default go-redis client sends HELLO 3, speaks
// RESP3 and sends CLIENT SETINFO; the library name and the protocol land.
// With Protocol 2 it speaks RESP2.
func TestGoRedisHandshake(t *testing.T) {
	ts := defaultTestServer(t)
	for _, proto := range []int{0, 2} {
		c := ts.client(t, &redis.Options{Protocol: proto})
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		want := 3 // go-redis's default
		if proto == 2 {
			want = 2
		}
		info, err := c.ClientInfo(context.Background()).Result()
		if err != nil || !strings.HasPrefix(info.LibName, "go-redis") || info.Resp != want {
			t.Fatalf("protocol %d: CLIENT INFO = %+v, %v", proto, info, err)
		}
	}
}

func TestServerCommands(t *testing.T) {
	ts := startServer(t, func() Config {
		cfg := DefaultConfig()
		cfg.Settings = func() map[string]string { return map[string]string{"fsync": "always", "data-dir": "/tmp/x"} }
		cfg.Version = "1.2.3"
		return cfg
	}(), nil)
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"maxclients": "10000", "databases": "16", "save": "", "appendonly": "no",
		"fsync": "always", "data-dir": "/tmp/x", "timeout": "0"} {
		if cfg[k] != v {
			t.Errorf("CONFIG GET %s = %q, want %q", k, cfg[k], v)
		}
	}
	run(t, c, []step{
		{args: a("config", "get", "save", "appendonly"), want: []any{"appendonly", "no", "save", ""}},
		{args: a("config", "get", "max*"), want: []any{"maxclients", "10000", "maxmemory", "0", "maxmemory-policy", "noeviction"}},
		{args: a("config", "get", "nothing"), want: []any{}},
		{args: a("config", "set", "databases", "5"), errText: "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"},
		{args: a("config", "set", "maxclients", "0"), errText: "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"},
		{args: a("config", "set", "maxclients", "5"), want: "OK"},
		{args: a("config", "get", "maxclients"), want: []any{"maxclients", "5"}},
		{args: a("config", "set", "maxclients", "10000"), want: "OK"},
		{args: a("config", "set", "nope", "5"), errText: "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"},
		{args: a("config", "set", "slowlog-max-len", "7", "slowlog-log-slower-than", "x"), errText: "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument couldn't be parsed into an integer"},
		{args: a("config", "get", "slowlog-max-len"), want: []any{"slowlog-max-len", "128"}},
		{args: a("config", "set", "slowlog-max-len", "7", "slowlog-log-slower-than", "0"), want: "OK"},
		{args: a("config", "get", "slowlog-*"), want: []any{"slowlog-log-slower-than", "0", "slowlog-max-len", "7"}},
		{args: a("config", "resetstat"), want: "OK"},
		{args: a("command", "count"), want: int64(len(commandTable))},
		{args: a("command", "info", "nope"), want: []any{nil}},
	})
	info, err := c.Do(ctx, "command", "info", "get").Slice()
	if err != nil || len(info) != 1 {
		t.Fatal(info, err)
	}
	get := info[0].([]any)
	if get[0] != "get" || get[1] != int64(2) || get[3] != int64(1) || len(get) != 10 {
		t.Errorf("COMMAND INFO get = %#v", get)
	}
	all, err := c.Do(ctx, "command").Slice()
	if err != nil || len(all) != len(commandTable) {
		t.Errorf("COMMAND: %d entries, %v", len(all), err)
	}
	docs, err := c.Do(ctx, "command", "docs", "set").Slice()
	if err != nil || len(docs) != 2 || docs[0] != "set" {
		t.Errorf("COMMAND DOCS set = %#v, %v", docs, err)
	}
	c.Set(ctx, "k", "v", 0)
	text, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\nredis_version:7.2.0\r\n", "# Clients\r\nconnected_clients:", "# Memory\r\n",
		"# Persistence\r\n", "# Stats\r\n", "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n", "# Ringcache\r\nringcache_version:1.2.3\r\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("INFO lacks %q:\n%s", want, text)
		}
	}
	only, _ := c.Info(ctx, "keyspace").Result()
	if only != "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n" {
		t.Errorf("INFO keyspace = %q", only)
	}
	multi, _ := c.Info(ctx, "server", "clients").Result()
	if !strings.HasPrefix(multi, "# Server\r\n") || !strings.Contains(multi, "\r\n\r\n# Clients\r\n") || strings.Contains(multi, "# Stats") {
		t.Errorf("INFO server clients = %q", multi)
	}
}

// infoStore adds an INFO section through InfoProvider.
type infoStore struct{ *memStore }

func (infoStore) InfoSections() []store.InfoSection {
	return []store.InfoSection{{Name: "Engine", Fields: [][2]string{{"engine", "mem"}}}}
}

func TestInfoProvider(t *testing.T) {
	ts := startServer(t, DefaultConfig(), infoStore{newMemStore(nil)})
	c := ts.client(t, nil)
	text, err := c.Info(context.Background()).Result()
	if err != nil || !strings.Contains(text, "\r\n\r\n# Engine\r\nengine:mem\r\n") {
		t.Fatalf("INFO = %q, %v", text, err)
	}
	only, _ := c.Info(context.Background(), "engine").Result()
	if only != "# Engine\r\nengine:mem\r\n" {
		t.Fatalf("INFO engine = %q", only)
	}
}

// estimatingStore has a Len that must not be called by INFO: it counts
// keys through KeyEstimator.
type estimatingStore struct{ *memStore }

func (estimatingStore) DBEstimates() []store.DBCount {
	exp := time.Now().Add(time.Hour).Unix()
	return []store.DBCount{{Keys: 42}, {}, {Keys: 7, Expires: 2, ExpireSum: 2 * exp}}
}
func (estimatingStore) Len(context.Context) (int64, error) {
	return 0, errors.New("Len asked for INFO")
}

func TestInfoKeyspaceUsesKeyEstimator(t *testing.T) {
	ts := startServer(t, DefaultConfig(), estimatingStore{newMemStore(nil)})
	c := ts.client(t, nil)
	only, err := c.Info(context.Background(), "keyspace").Result()
	re := regexp.MustCompile(`^# Keyspace\r\ndb0:keys=42,expires=0,avg_ttl=0\r\ndb2:keys=7,expires=2,avg_ttl=(\d+)\r\n$`)
	m := re.FindStringSubmatch(only)
	if err != nil || m == nil {
		t.Fatalf("INFO keyspace = %q, %v", only, err)
	}
	if ttl, _ := strconv.Atoi(m[1]); ttl < 3590_000 || ttl > 3600_000 {
		t.Fatalf("avg_ttl %d ms, want about an hour", ttl)
	}
}
