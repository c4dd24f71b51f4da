package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:6379" || cfg.Fsync != engine.FsyncEverySec || cfg.MaxClients != 10000 || !cfg.ProtectedMode ||
		cfg.ClusterMaxFrame != 64<<20 || cfg.ShutdownTimeout != 10*time.Second {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ringcache.yaml")
	yaml := "listen: 127.0.0.1:7000\ndata-dir: /from/file\nfsync: always\nmaxclients: 50\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	environ := env(map[string]string{
		"RINGCACHE_LISTEN":         "127.0.0.1:8000",
		"RINGCACHE_CLIENT_TIMEOUT": "30s",
		"RINGCACHE_MAXCLIENTS":     "70",
	})
	cfg, err := loadConfig([]string{"--config", file, "--maxclients", "99"}, environ, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag beats file and env", cfg.MaxClients, 99},
		{"file beats env", cfg.Listen, "127.0.0.1:7000"},
		{"file only", cfg.DataDir, "/from/file"},
		{"file fsync", cfg.Fsync, engine.FsyncAlways},
		{"env only", cfg.ClientTimeout, 30 * time.Second},
		{"default", cfg.LogFormat, "text"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfigConfigFileFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("data-dir: /x\n"), 0o644)
	cfg, err := loadConfig(nil, env(map[string]string{"RINGCACHE_CONFIG": file}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/x" {
		t.Fatalf("data-dir = %q", cfg.DataDir)
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		wants string
	}{
		{"bad fsync flag", []string{"--fsync", "sometimes"}, nil, "fsync"},
		{"bad maxclients", []string{"--maxclients", "0"}, nil, "maxclients"},
		{"non-integer maxclients", []string{"--maxclients", "many"}, nil, "maxclients"},
		{"bad duration env", nil, map[string]string{"RINGCACHE_CLIENT_TIMEOUT": "soon"}, "RINGCACHE_CLIENT_TIMEOUT"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "log-format"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "log-level"},
		{"bad byte size", []string{"--proto-max-bulk-len", "12parsecs"}, nil, "proto-max-bulk-len"},
		{"unknown flag", []string{"--colour", "red"}, nil, "colour"},
		{"stray argument", []string{"extra"}, nil, "extra"},
		{"unknown yaml key", []string{"--config", write("u.yaml", "colour: red\n")}, nil, "colour"},
		{"bad yaml value", []string{"--config", write("b.yaml", "fsync: often\n")}, nil, "fsync"},
		{"broken yaml", []string{"--config", write("x.yaml", "listen: [\n")}, nil, "x.yaml"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "none.yaml"},
		{"R above N", []string{"--replicas", "2", "--read-quorum", "3"}, nil, "read-quorum"},
		{"W zero", []string{"--write-quorum", "0"}, nil, "write-quorum"},
		{"vnodes", []string{"--vnodes", "0"}, nil, "vnodes"},
		{"cluster without gossip", []string{"--cluster-listen", "127.0.0.1:7100"}, nil, "gossip-listen"},
		{"seeds without cluster", []string{"--seeds", "127.0.0.1:7200"}, nil, "cluster-listen"},
		{"request timeout", []string{"--timeout", "0s"}, nil, "timeout"},
		{"read speculation", []string{"--read-speculation", "-1ms"}, nil, "read-speculation"},
		{"negative procs", []string{"--procs", "-1"}, nil, "procs"},
		{"too many procs", nil, map[string]string{"RINGCACHE_PROCS": "5000"}, "procs"},
		{"tiny frames", []string{"--cluster-max-frame", "1000"}, nil, "cluster-max-frame"},
		{"huge frames", []string{"--cluster-max-frame", "2gb"}, nil, "cluster-max-frame"},
		{"no shutdown time", []string{"--shutdown-timeout", "0s"}, nil, "shutdown-timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(c.args, env(c.env), &bytes.Buffer{})
			if !errors.Is(err, errConfig) {
				t.Fatalf("err = %v, want errConfig", err)
			}
			if !strings.Contains(err.Error(), c.wants) {
				t.Fatalf("error %q does not name %q", err, c.wants)
			}
		})
	}
}

func TestConfigHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	var cfg Config
	for _, s := range cfg.settings() {
		if !strings.Contains(out.String(), "--"+s.name) || !strings.Contains(out.String(), envName(s.name)) {
			t.Errorf("--help does not document %s", s.name)
		}
	}
	if !strings.Contains(out.String(), "(default 127.0.0.1:6379;") {
		t.Errorf("--help does not show defaults:\n%s", out.String())
	}
}

func TestByteSizes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "64kb": 64 << 10, "512MB": 512 << 20, "1g": 1 << 30, "7b": 7} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "kb", "1.5mb", "99999999999999999gb"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int64{"1000": 1000, "1k": 1000, "1kb": 1024, "2m": 2e6, "64mb": 64 << 20, "3g": 3e9, "3GB": 3 << 30} {
		got, err := parseRedisBytes(in)
		if err != nil || got != want {
			t.Errorf("parseRedisBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "mb", "+2mb", "-0", "1 mb", "1.5mb", "0x10", "99999999999999999999999"} {
		if _, err := parseRedisBytes(bad); err == nil {
			t.Errorf("parseRedisBytes(%q) accepted", bad)
		}
	}
	var rb redisBytes
	if err := rb.Set(" 007k "); err != nil || rb != 7000 {
		t.Errorf("redisBytes.Set(\" 007k \") = %d, %v; want 7000", rb, err)
	}
	if s := formatBytes(512 << 20); s != "512mb" {
		t.Errorf("formatBytes = %q", s)
	}
}

func TestNodeIDKeptAndChecked(t *testing.T) {
	dir := t.TempDir()
	id, err := loadNodeID(dir, "")
	if err != nil || !strings.HasPrefix(id, "node-") {
		t.Fatalf("generated id %q, %v", id, err)
	}
	again, err := loadNodeID(dir, "")
	if err != nil || again != id {
		t.Fatalf("id not kept: %q then %q (%v)", id, again, err)
	}
	if _, err := loadNodeID(dir, "other"); !errors.Is(err, errConfig) {
		t.Fatalf("a different explicit id was accepted: %v", err)
	}
	if got, err := loadNodeID(t.TempDir(), "n1"); err != nil || got != "n1" {
		t.Fatalf("explicit id: %q %v", got, err)
	}
}

func TestConfigSeedsList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("cluster-listen: 127.0.0.1:7101\ngossip-listen: 127.0.0.1:7201\nseeds:\n  - 127.0.0.1:7201\n  - 127.0.0.1:7202\n"), 0o644)
	cfg, err := loadConfig([]string{"--config", file}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Seeds) != 2 || cfg.Seeds[1] != "127.0.0.1:7202" {
		t.Fatalf("seeds from YAML list: %q", cfg.Seeds)
	}
	cfg, err = loadConfig([]string{"--cluster-listen", "a:1", "--gossip-listen", "a:2", "--seeds", " x:1, ,y:2 "}, env(nil), &bytes.Buffer{})
	if err != nil || len(cfg.Seeds) != 2 || cfg.Seeds[0] != "x:1" {
		t.Fatalf("seeds flag: %q %v", cfg.Seeds, err)
	}
}
