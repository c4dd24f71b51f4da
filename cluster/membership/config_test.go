package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.NodeID = "n1"
	c.ClientAddr = "127.0.0.1:6379"
	c.ClusterAddr = "127.0.0.1:7379"
	return c
}

func TestDefaultConfigNeedsIdentity(t *testing.T) {
	if err := DefaultConfig().Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("DefaultConfig().Validate() = %v, want ErrInvalidConfig (no NodeID)", err)
	}
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	c := DefaultConfig()
	if c.ClusterName != "ringcache" || c.RejoinInterval != time.Second || c.VNodes != 128 ||
		c.ProbeInterval != 500*time.Millisecond || c.ProbeTimeout != 300*time.Millisecond ||
		c.SuspicionMaxTimeoutMult != 3 || c.PushPullInterval != 5*time.Second || c.DeadNodeReclaimTime != 2*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"ok with seeds and port 0", func(c *Config) { c.GossipAddr = "127.0.0.1:0"; c.Seeds = []string{"10.0.0.1:7946", "seed.local:7946"} }, nil},
		{"ok with secret", func(c *Config) { c.Secret = "s3cret" }, nil},
		{"empty id", func(c *Config) { c.NodeID = "" }, ErrInvalidConfig},
		{"id with slash", func(c *Config) { c.NodeID = "a/b" }, ErrInvalidConfig},
		{"id too long", func(c *Config) { c.NodeID = strings.Repeat("a", maxNodeIDLen+1) }, ErrInvalidConfig},
		{"gossip addr without port", func(c *Config) { c.GossipAddr = "127.0.0.1" }, ErrInvalidConfig},
		{"gossip addr without host", func(c *Config) { c.GossipAddr = ":7946" }, ErrInvalidConfig},
		{"seed with port 0", func(c *Config) { c.Seeds = []string{"127.0.0.1:0"} }, ErrInvalidConfig},
		{"seed with bad port", func(c *Config) { c.Seeds = []string{"127.0.0.1:x"} }, ErrInvalidConfig},
		{"no client addr", func(c *Config) { c.ClientAddr = "" }, ErrInvalidConfig},
		{"no cluster addr", func(c *Config) { c.ClusterAddr = "" }, ErrInvalidConfig},
		{"zero vnodes", func(c *Config) { c.VNodes = 0 }, ErrInvalidConfig},
		{"too many vnodes", func(c *Config) { c.VNodes = MaxVNodes + 1 }, ErrInvalidConfig},
		{"empty node state", func(c *Config) { c.NodeState = "" }, ErrInvalidConfig},
		{"empty cluster name", func(c *Config) { c.ClusterName = "" }, ErrInvalidConfig},
		{"long cluster name", func(c *Config) { c.ClusterName = strings.Repeat("c", 256) }, ErrInvalidConfig},
		{"zero rejoin", func(c *Config) { c.RejoinInterval = 0 }, ErrInvalidConfig},
		{"backoff max < min", func(c *Config) { c.JoinBackoffMin = time.Second; c.JoinBackoffMax = time.Millisecond }, ErrInvalidConfig},
		{"probe timeout > interval", func(c *Config) { c.ProbeTimeout = 2 * c.ProbeInterval }, ErrInvalidConfig},
		{"zero suspicion mult", func(c *Config) { c.SuspicionMult = 0 }, ErrInvalidConfig},
		{"zero suspicion max mult", func(c *Config) { c.SuspicionMaxTimeoutMult = 0 }, ErrInvalidConfig},
		{"zero dead node reclaim", func(c *Config) { c.DeadNodeReclaimTime = 0 }, ErrInvalidConfig},
		{"ok with known members", func(c *Config) { c.Known = []Member{{ID: "n2", GossipAddr: "10.0.0.2:7946", VNodes: 8}} }, nil},
		{"known member with bad id", func(c *Config) { c.Known = []Member{{ID: "n 2"}} }, ErrInvalidConfig},
		{"negative leave timeout", func(c *Config) { c.LeaveTimeout = -1 }, ErrInvalidConfig},
		{"metadata too large", func(c *Config) {
			c.ClientAddr = strings.Repeat("h", 250) + ":1"
			c.ClusterAddr = strings.Repeat("h", 250) + ":2"
		}, ErrMetaTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStartRejectsInvalidConfig(t *testing.T) {
	c := validConfig()
	c.NodeID = ""
	if m, err := Start(c); !errors.Is(err, ErrInvalidConfig) {
		if m != nil {
			_ = m.Close()
		}
		t.Fatalf("Start = %v, want ErrInvalidConfig", err)
	}
}
