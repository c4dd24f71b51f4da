package membership

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func sampleMeta() meta {
	return meta{NodeID: "n1", ClientAddr: "10.0.0.1:6379", ClusterAddr: "10.0.0.1:7379", VNodes: 128, NodeState: NodeNormal}
}

func TestMetaRoundTrip(t *testing.T) {
	long := strings.Repeat("a", maxMetaString)
	for _, tc := range []struct {
		name string
		m    meta
	}{
		{"typical", sampleMeta()},
		{"one vnode", meta{NodeID: "x", ClientAddr: "c", ClusterAddr: "r", VNodes: 1, NodeState: NodeJoining}},
		{"max vnodes", meta{NodeID: "node-1.a_b", ClientAddr: "[::1]:1", ClusterAddr: "[::1]:2", VNodes: MaxVNodes, NodeState: NodeLeaving}},
		{"long addresses", meta{NodeID: strings.Repeat("z", maxNodeIDLen), ClientAddr: long[:200], ClusterAddr: long[:200], VNodes: 7, NodeState: "normal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeMeta(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > memberlist.MetaMaxSize {
				t.Fatalf("encoded %d bytes, over %d", len(b), memberlist.MetaMaxSize)
			}
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.m {
				t.Fatalf("got %+v, want %+v", got, tc.m)
			}
			// The boot id, then fields appended by a later writer, which
			// are ignored.
			withBoot := tc.m
			withBoot.Boot = 1<<40 + 7
			b, err = encodeMeta(withBoot)
			if err != nil {
				t.Fatal(err)
			}
			got, err = decodeMeta(append(b, 9, 'x', 'y'))
			if err != nil || got != withBoot {
				t.Fatalf("with boot id and a trailing field: %+v, %v", got, err)
			}
		})
	}
}

func TestEncodeMetaTooLarge(t *testing.T) {
	long := strings.Repeat("a", maxMetaString)
	for _, tc := range []struct {
		name string
		m    meta
	}{
		{"field over 255", meta{NodeID: "n", ClientAddr: long + "a", ClusterAddr: "c", VNodes: 1, NodeState: "s"}},
		{"total over 512", meta{NodeID: "n", ClientAddr: long, ClusterAddr: long, VNodes: 1, NodeState: "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := encodeMeta(tc.m); !errors.Is(err, ErrMetaTooLarge) {
				t.Fatalf("err = %v, want ErrMetaTooLarge", err)
			}
		})
	}
}

func TestDecodeMetaRejectsGarbage(t *testing.T) {
	good, err := encodeMeta(sampleMeta())
	if err != nil {
		t.Fatal(err)
	}
	withID := func(id string) []byte {
		m := sampleMeta()
		m.NodeID = id
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withVNodes := func(v int) []byte {
		m := sampleMeta()
		m.VNodes = v
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"version zero", append([]byte{0}, good[1:]...)},
		{"truncated varint", []byte{metaVersion1, 0x80}},
		{"truncated string", good[:len(good)-1]},
		{"only version", []byte{metaVersion1}},
		{"huge length", []byte{metaVersion1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"zero vnodes", withVNodes(0)},
		{"too many vnodes", withVNodes(MaxVNodes + 1)},
		{"empty id", withID("")},
		{"id with space", withID("a b")},
		{"id with newline", withID("a\nb")},
		{"json", []byte(`{"id":"n1"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeMeta(tc.b); !errors.Is(err, ErrBadMeta) {
				t.Fatalf("err = %v, want ErrBadMeta", err)
			}
		})
	}
}

// FuzzDecodeMeta checks that decoding never panics and that whatever
// decodes re-encodes to a blob that decodes to the same value and is a
// prefix of the input (only trailing bytes may be dropped).
func FuzzDecodeMeta(f *testing.F) {
	good, _ := encodeMeta(sampleMeta())
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{metaVersion1})
	f.Add([]byte{metaVersion1, 1, 1, 'a', 0, 0, 0})
	f.Add(append(good, 1, 2, 3))
	f.Add([]byte{metaVersion1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrBadMeta) {
				t.Fatalf("error %v does not wrap ErrBadMeta", err)
			}
			return
		}
		re, err := encodeMeta(m)
		if err != nil {
			// A decoded blob may exceed MetaMaxSize only via long fields
			// that this node would never send; it must still be refused
			// cleanly.
			if !errors.Is(err, ErrMetaTooLarge) {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		m2, err := decodeMeta(re)
		if err != nil || m2 != m {
			t.Fatalf("re-decode: %+v, %v; want %+v", m2, err, m)
		}
		// The encoding is minimal, and a reader skips trailing bytes, so
		// the re-encoding is never longer than what was decoded.
		if len(re) > len(b) {
			t.Fatalf("re-encoding %x longer than input %x", re, b)
		}

	})
}
