package server

import (
	"context"
	"strings"
	"testing"

	"github.com/ringcache/ringcache/server/store"
)

// infoBlocks splits an INFO reply into its sections: header -> field lines.
func infoBlocks(t *testing.T, info string) (map[string][]string, []string) {
	t.Helper()
	blocks := map[string][]string{}
	var order []string
	cur := ""
	for _, l := range strings.Split(info, "\r\n") {
		switch {
		case l == "":
		case strings.HasPrefix(l, "# "):
			cur = l[2:]
			order = append(order, cur)
		default:
			blocks[cur] = append(blocks[cur], l)
		}
	}
	return blocks, order
}

func TestInfoClusterSection(t *testing.T) {
	tests := []struct {
		name  string
		info  []store.InfoSection
		want  []string
		view  bool
		extra string // another section that must still be there
	}{
		{name: "plain store", want: []string{"cluster_enabled:0"}},
		{name: "store without Cluster", view: true,
			info: []store.InfoSection{{Name: "Engine", Fields: [][2]string{{"engine_x", "1"}}}},
			want: []string{"cluster_enabled:0"}, extra: "Engine"},
		{name: "store Cluster merged", view: true,
			info: []store.InfoSection{
				{Name: "Engine", Fields: [][2]string{{"engine_x", "1"}}},
				{Name: "cluster", Fields: [][2]string{{"cluster_enabled", "1"}, {"cluster_members_alive", "3"}, {"cluster_replicas", "3"}}},
			},
			want: []string{"cluster_enabled:0", "cluster_members_alive:3", "cluster_replicas:3"}, extra: "Engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var store Store
			if tt.view {
				v := testViewStore()
				v.info = tt.info
				store = v
			}
			ts := startServer(t, DefaultConfig(), store)
			c := ts.client(t, nil)
			ctx := context.Background()
			for _, args := range [][]any{{"info"}, {"info", "all"}, {"info", "CLUSTER"}} {
				info, err := c.Do(ctx, args...).Text()
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(info, "# Cluster\r\n"); n != 1 {
					t.Fatalf("%v: %d Cluster headers in %q", args, n, info)
				}
				blocks, order := infoBlocks(t, info)
				if got := strings.Join(blocks["Cluster"], ","); got != strings.Join(tt.want, ",") {
					t.Errorf("%v: Cluster = %q, want %q", args, got, tt.want)
				}
				if args[len(args)-1] == "CLUSTER" {
					if len(order) != 1 {
						t.Errorf("INFO cluster returned sections %v", order)
					}
					continue
				}
				if tt.extra != "" && blocks[tt.extra] == nil {
					t.Errorf("%v: section %s missing: %v", args, tt.extra, order)
				}
			}
		})
	}
}
