package cluster

import "github.com/ringcache/ringcache/server"

// The Node is the RESP server's store: its quorum reads and writes, and
// every optional view the server finds by type assertion. Checked here so
// that the package itself needs nothing of the server.
var (
	_ server.Store        = (*Node)(nil)
	_ server.LatestReader = (*Node)(nil)
	_ server.ClusterView  = (*Node)(nil)
	_ server.InfoProvider = (*Node)(nil)
	_ server.HintsView    = (*Node)(nil)
	_ server.Repairer     = (*Node)(nil)
	_ server.KeyEstimator = (*Node)(nil)
)
