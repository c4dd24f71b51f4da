// Command ringcache runs one node: the RESP server (package server) over a
// store (package cluster) that writes to Pebble (package engine).
//
// Settings come from flags, a YAML file named by --config (keys are the flag
// names) and RINGCACHE_* environment variables, in that precedence; `--help`
// lists every setting with its default. An invalid setting stops the node at
// start with exit status 2 and a message naming it.
//
// SIGTERM or SIGINT stops the node cleanly: it stops accepting clients,
// lets in-flight commands finish and their replies go out (for at most half
// of --shutdown-timeout, 10s by default), stops the cluster node, then syncs
// and closes Pebble and exits 0. Every step is bounded (the replica server
// leaves a stuck handler behind after 2s), and a watchdog bounds the whole:
// if the process still runs --shutdown-timeout after the signal it logs why
// and exits 1 without closing the engine, which loses nothing acknowledged
// (every acknowledged write is in the write-ahead log, as after a SIGKILL).
// A second signal ends the process at once.
//
// In a cluster, stopping is not leaving: the node stops gossiping without a
// goodbye, the other members see it dead and keep its place in the ring,
// and it starts again with the member list it persisted in its data
// directory, so a restart never moves ownership. Leaving the cluster for
// good is a separate operation (cluster.Node.Leave).
//
// In a cluster, --cluster-max-frame (64mb) bounds a replica frame, and with
// it the largest key plus value a cluster stores: the frame less 64kb.
//
// The node id is kept in the data directory (file node-id): a data
// directory is never served under two identities, and a node keeps its id
// (and so, in a cluster, its ring tokens) across restarts.
//
// In a cluster, --seeds lists gossip addresses to join through; a
// restarted node also joins the members it knew, so a node seeded only
// with itself finds the cluster again.
package main
