package consensus

import (
	"encoding/binary"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

func TestProposalFraming(t *testing.T) {
	dl := time.Unix(1700000000, 123456789)
	id := newProposalID()
	if id&1 != 0 || id == 0 {
		t.Fatalf("proposal id %x: want even and non-zero", id)
	}
	gotID, gotDL, cmd, ok := decodeProposal(encodeProposal(id, dl, []byte("cmd")))
	if !ok || gotID != id || !gotDL.Equal(dl) || string(cmd) != "cmd" {
		t.Fatalf("round trip: %x %v %q %v", gotID, gotDL, cmd, ok)
	}
	if _, gotDL, cmd, ok = decodeProposal(encodeProposal(id, time.Time{}, nil)); !ok || !gotDL.IsZero() || len(cmd) != 0 {
		t.Fatalf("no deadline, empty command: %v %q %v", gotDL, cmd, ok)
	}
	// A log written before deadlines: odd id, then the command.
	old := binary.BigEndian.AppendUint64(nil, 0x1235)
	if gotID, gotDL, cmd, ok = decodeProposal(append(old, "join"...)); !ok || gotID != 0x1235 || !gotDL.IsZero() || string(cmd) != "join" {
		t.Fatalf("old framing: %x %v %q %v", gotID, gotDL, cmd, ok)
	}
	for _, data := range [][]byte{nil, {1, 2, 3}, binary.BigEndian.AppendUint64(nil, 2)} {
		if _, _, _, ok := decodeProposal(data); ok {
			t.Fatalf("%x decoded as a proposal", data)
		}
	}
}

func TestDropExpired(t *testing.T) {
	now := time.Unix(1700000000, 0)
	grace := time.Second
	entry := func(dl time.Time) *pb.Entry {
		return &pb.Entry{Type: pb.EntryNormal.Enum(), Data: encodeProposal(newProposalID(), dl, []byte("x"))}
	}
	fresh, late, none := entry(now.Add(-grace/2)), entry(now.Add(-2*grace)), entry(time.Time{})
	conf := &pb.Entry{Type: pb.EntryConfChange.Enum(), Data: []byte("conf")}
	m := &pb.Message{Type: pb.MsgProp.Enum(), Entries: []*pb.Entry{late, fresh, conf, none, late}}
	if !dropExpired(m, now, grace) || len(m.Entries) != 3 || m.Entries[0] != fresh || m.Entries[1] != conf || m.Entries[2] != none {
		t.Fatalf("kept %v", m.Entries)
	}
	m = &pb.Message{Type: pb.MsgProp.Enum(), Entries: []*pb.Entry{late}}
	if dropExpired(m, now, grace) {
		t.Fatal("a message of expired proposals only is kept")
	}
	app := &pb.Message{Type: pb.MsgApp.Enum(), Entries: []*pb.Entry{late}}
	if !dropExpired(app, now, grace) || len(app.Entries) != 1 {
		t.Fatal("entries of a message other than a proposal were dropped")
	}
}
