// Package server is ringcache's RESP front end: it speaks the Redis
// protocol (RESP2 and RESP3) on top of github.com/tidwall/redcon and turns
// commands into calls on a Store. It never touches storage itself; the
// single-node store and the cluster coordinator implement Store.
//
// # Connection lifecycle
//
// Serve wraps the caller's listener. The wrapper admits each client before
// redcon sees it: over MaxClients it writes "-ERR max number of clients
// reached", and in protected mode (no password, non-loopback peer) Redis's
// DENIED text, then closes. Admitted sockets are wrapped in a clientConn and
// registered; redcon runs one goroutine per connection that reads a
// pipeline, calls the handler once per pipeline and flushes the replies.
// Shutdown closes the real listener but holds redcon's accept loop until
// every client is gone, because redcon closes all connections the moment
// Accept fails; meanwhile each clientConn ends at its next read, so a client
// that is executing a pipeline finishes it and receives its replies first.
// If the context ends first, the remaining sockets are closed and the store
// context is cancelled.
//
// # Input validation
//
// redcon buffers without bound and rejects some inputs Redis accepts, so
// every byte passes a streaming validator inside clientConn.Read before
// redcon parses it. The validator checks headers only (bulk data streams
// through): multibulk counts, bulk lengths, header and inline line lengths,
// and the bytes one command makes the server buffer. A violation writes
// Redis's exact protocol error, after the replies to the commands before
// it, and closes the connection. "*0" and "*-1" are dropped as Redis does,
// and inline commands are split with Redis's quoting rules and handed to
// redcon in multibulk form. Before AUTH (when a password is set) tighter
// limits apply, as in Redis 7, and commands are released one at a time so
// AUTH takes effect before the next header is judged.
//
// # Commands and errors
//
// The command table holds each command's name, arity (negative means at
// least), flags and key positions (Redis's COMMAND convention, which the
// cluster layer can use to route). One dispatcher looks the name up
// case-insensitively without allocating, checks arity, then
// authentication, then calls the handler. Handlers parse arguments into
// typed requests with pure functions (parseSet, parseExpire, ...), call the
// Store and write one reply. A returned error becomes a reply in one place:
// an error with a RESPError method (a store's "NOQUORUM ...") is written
// as is, any other as "ERR " + its text. A handler panic is logged, the
// client gets "-ERR internal error" and is closed; the server keeps going.
//
// # Batching
//
// The handler takes the whole pipeline from redcon. A run of consecutive
// GET/MGET becomes one Store.Get, and a run of plain SET/MSET one
// Store.Put (a key written twice in the run is sent once, with its last
// value); replies are written in order. Scratch slices live on the client
// so the hot path does not allocate beyond what redcon allocates per
// command.
//
// # Atomicity
//
// Read-modify-write commands (SET NX/XX/GET/KEEPTTL, SETNX, INCR family,
// APPEND, GETDEL, GETEX, EXPIRE family, PERSIST, DEL) read and write under a
// striped key lock held exclusively; blind writes hold their stripes
// shared, and reads take them shared too, so a read sees all of a
// transaction or none of it. They are therefore atomic on one node. In a
// cluster (the store is a Router) they run at their keys' primary
// (primary.go): a node that is not the primary forwards them there, the
// primary runs them with the same locks, and the reply comes back as the
// primary wrote it. MULTI/EXEC (multi.go) queues commands and runs them
// with every key locked, at their primary when they have one, and WATCH
// compares store versions. EVAL (eval.go) runs a Lua script (package
// script) the same way, its redis.call commands in a session that neither
// locks nor forwards.
//
// # Cluster commands
//
// Databases (db.go): SELECT chooses one; a key's database is part of the
// key the store sees, so the layers below need not know of it.
//
// SCAN, KEYS and RANDOMKEY (scan.go) list keys through the store's
// Scanner, which walks the keyspace in token order; MATCH (Redis's glob
// patterns) and TYPE filter each step's keys.
//
// RINGCACHE is the operator's window on the cluster through any Redis
// client. NODES, OWNERS and LOCALGET read the store's optional ClusterView
// interface (found by type assertion, like database/sql/driver's optional
// interfaces); a store without it answers "not available on this store".
// LOCALGET shows what this node itself holds, tombstones and expired
// records included, so tests and operators can compare replicas. Its key
// argument is not declared as a key in the command table: a key-routing
// client must not redirect it to the key's owner.
//
// RINGCACHE CONSISTENCY <read> <write> overrides the connection's read and
// write levels (ONE, QUORUM, ALL). The server only validates the names;
// Config.Consistency turns them into a context, derived from the server's,
// that the connection then passes to every Store call (the coordinator
// reads the levels back from it). The context is made once per override
// and kept in the connection's state, so commands pay a nil check, not an
// allocation. CONSISTENCY RESET, and the RESET command, drop it. Without
// the hook the store has no levels and the command is refused.
//
// INFO always has a "# Cluster" section with cluster_enabled:0: ringcache
// partitions keys behind every node, so cluster-aware clients must treat
// a node as standalone. A store's own "Cluster" section is merged into it.
//
// # Authentication
//
// There is one user, "default". With RequirePass set a client must AUTH
// (or HELLO 2|3 AUTH default pass) before anything but AUTH, HELLO, QUIT
// and RESET; passwords are compared in constant time.
//
// # Protocols
//
// A connection speaks RESP2 until HELLO 3, and again after HELLO 2 or
// RESET. Handlers write through the connection's reply writer (reply.go),
// which wraps redcon's: a handler states the shape it means — a null, a
// map, a set, a verbatim string, a double, a boolean, a push — and the
// writer puts it in RESP3, or degrades it to RESP2 as Redis does (a map to
// a flat array, a null to "$-1"). Requests are parsed the same in both.
package server
