// Package local is the single-node store behind the RESP server, when
// ringcache runs as one node rather than a cluster member.
//
// A Store stamps each write with a fresh version from the node's hybrid
// logical clock (engine/hlc) and applies it to the local engine with
// last-write-wins. If a stored record carries a version from the future
// (written under a clock that ran ahead, before a restart), the write is
// not dropped: the clock learns that version and the write is applied
// again with a newer one. It answers the operator views as a cluster of
// one: the only member, alive, owning every key.
//
// Lookup (RINGCACHE LOCALGET) and EngineInfo (INFO's Engine section) are
// shared with a cluster member, which answers them from its own engine
// the same way.
package local
