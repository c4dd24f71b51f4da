package membership

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

func mlNode(t *testing.T, id, ip string, port uint16, state memberlist.NodeStateType, raw []byte) *memberlist.Node {
	t.Helper()
	return &memberlist.Node{Name: id, Addr: net.ParseIP(ip), Port: port, Meta: raw, State: state}
}

func newTestDelegate(t *testing.T) (*delegate, *recorder) {
	t.Helper()
	rec := &recorder{}
	d := &delegate{reg: newRegistry(slog.New(rec), func() {}), log: slog.New(rec)}
	raw := rawMeta(t, "n1", NodeNormal)
	d.meta.Store(&raw)
	d.NotifyJoin(mlNode(t, "n1", "127.0.0.1", 7000, memberlist.StateAlive, raw))
	return d, rec
}

func TestDelegateNotifyMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		peers func(t *testing.T) []*memberlist.Node
		want  error
	}{
		{"fresh peers", func(t *testing.T) []*memberlist.Node {
			return []*memberlist.Node{
				mlNode(t, "n2", "127.0.0.1", 7001, memberlist.StateAlive, rawMeta(t, "n2", NodeNormal)),
				mlNode(t, "n1", "127.0.0.1", 7000, memberlist.StateAlive, rawMeta(t, "n1", NodeNormal)),
			}
		}, nil},
		{"our id from another address", func(t *testing.T) []*memberlist.Node {
			return []*memberlist.Node{
				mlNode(t, "n2", "127.0.0.1", 7001, memberlist.StateAlive, rawMeta(t, "n2", NodeNormal)),
				mlNode(t, "n1", "127.0.0.1", 7999, memberlist.StateAlive, rawMeta(t, "n1", NodeNormal)),
			}
		}, ErrConflict},
		{"suspect claim counts too", func(t *testing.T) []*memberlist.Node {
			return []*memberlist.Node{mlNode(t, "n1", "127.0.0.1", 7999, memberlist.StateSuspect, rawMeta(t, "n1", NodeNormal))}
		}, ErrConflict},
		{"dead entry at an old address is history", func(t *testing.T) []*memberlist.Node {
			return []*memberlist.Node{mlNode(t, "n1", "127.0.0.1", 7999, memberlist.StateDead, rawMeta(t, "n1", NodeNormal))}
		}, nil},
		{"garbage metadata", func(t *testing.T) []*memberlist.Node {
			return []*memberlist.Node{mlNode(t, "n5", "127.0.0.1", 7005, memberlist.StateAlive, []byte("garbage"))}
		}, ErrBadMeta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDelegate(t)
			err := d.NotifyMerge(tc.peers(t))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("NotifyMerge = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDelegateNotifyAliveGarbage(t *testing.T) {
	d, rec := newTestDelegate(t)
	for _, raw := range [][]byte{nil, {}, {1}, {0xff, 0xff}, []byte("\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80")} {
		if err := d.NotifyAlive(mlNode(t, "n7", "127.0.0.1", 7007, memberlist.StateAlive, raw)); !errors.Is(err, ErrBadMeta) {
			t.Fatalf("NotifyAlive(%x) = %v, want ErrBadMeta", raw, err)
		}
	}
	if rec.count("refused peer", "id=n7") == 0 {
		t.Fatal("refusal not logged")
	}
	if got := view(d.reg.members()); got != "n1:alive" {
		t.Fatalf("members %s", got)
	}
}

func TestDelegateNotifyConflictLogs(t *testing.T) {
	d, rec := newTestDelegate(t)
	raw := rawMeta(t, "n1", NodeNormal)
	d.NotifyConflict(mlNode(t, "n1", "127.0.0.1", 7000, 0, raw), mlNode(t, "n1", "127.0.0.2", 7000, 0, raw))
	if rec.count("ERROR", "claimed from a second address", "id=n1", "other_addr=127.0.0.2:7000") != 1 {
		t.Fatalf("conflict not logged: %q", rec.lines)
	}
	if d.reg.counts().Refused != 1 {
		t.Fatal("conflict not counted")
	}
}

func TestDelegateNodeMetaRespectsLimit(t *testing.T) {
	d, _ := newTestDelegate(t)
	if got := d.NodeMeta(memberlist.MetaMaxSize); len(got) == 0 {
		t.Fatal("no metadata")
	}
	if got := d.NodeMeta(3); got != nil {
		t.Fatalf("NodeMeta(3) = %x, want nil", got)
	}
}
