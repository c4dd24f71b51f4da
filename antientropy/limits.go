package antientropy

import "github.com/ringcache/ringcache/cluster/transport"

// Limits bound what one repair request of an exchange carries. Records
// are pushed with the replica Apply and pulled with the replica Read,
// both of which travel in one transport frame per request, so a repair
// batch is sized in bytes as well as in records: a range whose records
// are large would otherwise make requests no frame can hold, fail the
// exchange, and stall the repair of that range round after round.
type Limits struct {
	// BatchBytes bounds the keys and values of one push or pull request,
	// in bytes; a record larger than BatchBytes goes alone. Default 4 MiB.
	BatchBytes int
	// MaxRecordBytes is the largest key plus value one replica frame
	// carries (transport.MaxRecordBytes). A larger record is neither
	// pushed nor pulled: it is counted in Result.KeysTooLarge and left as
	// it is, and the rest of its range is repaired. 0: no limit. Default:
	// the limit of the transport's default 64 MiB frames; a node sets its
	// own frame's.
	MaxRecordBytes int
}

// DefaultLimits returns the default of every field.
func DefaultLimits() Limits {
	return Limits{BatchBytes: 4 << 20, MaxRecordBytes: transport.MaxRecordBytes(transport.DefaultConfig().MaxFrameBytes)}
}

// recordOverhead approximates what a record adds to a request beyond its
// key and value (length prefixes, the record header): enough to size
// batches, which the replica below cuts exactly to its frame anyway.
const recordOverhead = 48

// tooLarge reports whether a record of size bytes of key and value fits
// in no frame.
func (l Limits) tooLarge(size int) bool { return l.MaxRecordBytes > 0 && size > l.MaxRecordBytes }

// batches cuts es, in order, into batches of at most maxCount records and
// BatchBytes (a record larger than BatchBytes goes alone), leaving out the
// records too large for a frame, which it returns apart. An entry of
// unknown size (0) counts for its overhead only.
func (l Limits) batches(es []*Entry, maxCount int) (out [][]*Entry, big []*Entry) {
	var cur []*Entry
	bytes := 0
	for _, e := range es {
		if l.tooLarge(e.Size) {
			big = append(big, e)
			continue
		}
		w := e.Size + recordOverhead
		if len(cur) > 0 && (len(cur) == maxCount || bytes+w > l.BatchBytes) {
			out = append(out, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, e)
		bytes += w
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, big
}
