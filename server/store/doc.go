// Package store holds the values the RESP server and the store behind it
// exchange: the items a read returns, the mutations a write applies, and
// what the operator commands show (INFO sections, nodes, hints, repair
// summaries, a replica's own record).
//
// The server declares the interfaces it consumes (server.Store,
// server.ClusterView, server.InfoProvider, ...) in terms of these values,
// and the stores that implement them — the single-node server/local and
// the cluster's Node — import this package, not the server. It depends on
// nothing.
package store
