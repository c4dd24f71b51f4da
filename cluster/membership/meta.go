package membership

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// metaVersion1 is the first byte of every metadata blob this package
// writes. A reader refuses other versions: a new version is introduced
// only for changes an old reader must not misread. Fields added at the end
// of a version-1 blob are ignored by older readers, so adding a field does
// not need a new version.
const metaVersion1 = 1

// maxMetaString bounds each string field so a length prefix is at most two
// bytes; the whole blob is checked against memberlist.MetaMaxSize as well.
const maxMetaString = 255

// meta is what a node advertises about itself in memberlist's NodeMeta.
type meta struct {
	NodeID      string
	ClientAddr  string
	ClusterAddr string
	VNodes      int
	NodeState   string
	// Boot identifies one run of the node (its start time in Unix ns). A
	// node that restarts advertises new metadata, so every member hears
	// of the restart as an update even if it never saw the node fail.
	Boot uint64
}

// encodeMeta lays m out as: version byte, uvarint VNodes, then NodeID,
// ClientAddr, ClusterAddr and NodeState, each a uvarint length followed by
// its bytes, then uvarint Boot when it is set. It fails with
// ErrMetaTooLarge past memberlist.MetaMaxSize.
func encodeMeta(m meta) ([]byte, error) {
	if m.VNodes < 0 {
		return nil, fmt.Errorf("%w: negative vnodes", ErrBadMeta)
	}
	fields := [...]string{m.NodeID, m.ClientAddr, m.ClusterAddr, m.NodeState}
	buf := make([]byte, 0, 64)
	buf = append(buf, metaVersion1)
	buf = binary.AppendUvarint(buf, uint64(m.VNodes))
	for _, f := range fields {
		if len(f) > maxMetaString {
			return nil, fmt.Errorf("%w: field of %d bytes (max %d)", ErrMetaTooLarge, len(f), maxMetaString)
		}
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	if m.Boot != 0 {
		buf = binary.AppendUvarint(buf, m.Boot)
	}
	if len(buf) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrMetaTooLarge, len(buf), memberlist.MetaMaxSize)
	}
	return buf, nil
}

// decodeMeta parses a blob written by encodeMeta. It never panics: any
// blob that is truncated, of an unknown version, out of range or with an
// invalid node id yields an error wrapping ErrBadMeta. Bytes after the
// last known field are ignored (see metaVersion1).
func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrBadMeta)
	}
	if b[0] != metaVersion1 {
		return m, fmt.Errorf("%w: unknown version %d", ErrBadMeta, b[0])
	}
	d := metaDecoder{buf: b[1:]}
	vnodes := d.uvarint()
	m.NodeID = d.str()
	m.ClientAddr = d.str()
	m.ClusterAddr = d.str()
	m.NodeState = d.str()
	if d.err != nil {
		return meta{}, d.err
	}
	if len(d.buf) > 0 {
		// Written by encodeMeta since the field exists; a blob without it
		// (or with a damaged one) simply has no boot id.
		if boot, n := binary.Uvarint(d.buf); n > 0 {
			m.Boot = boot
		}
	}
	if vnodes < 1 || vnodes > MaxVNodes {
		return meta{}, fmt.Errorf("%w: vnodes %d not in 1..%d", ErrBadMeta, vnodes, MaxVNodes)
	}
	m.VNodes = int(vnodes)
	if err := validNodeID(m.NodeID); err != nil {
		return meta{}, fmt.Errorf("%w: node id: %w", ErrBadMeta, err)
	}
	return m, nil
}

// metaDecoder reads fields off buf, keeping the first error and turning
// every later read into a no-op.
type metaDecoder struct {
	buf []byte
	err error
}

func (d *metaDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrBadMeta)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *metaDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.err = fmt.Errorf("%w: truncated", ErrBadMeta)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *metaDecoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxMetaString || n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("%w: string of %d bytes with %d left", ErrBadMeta, n, len(d.buf))
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}
