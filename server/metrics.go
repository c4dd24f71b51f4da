package server

import "time"

// Metrics receives server events. Implementations must be safe for
// concurrent use and cheap: ObserveCommand runs once per command.
type Metrics interface {
	// ObserveCommand records one executed command by its lowercase name,
	// how long it took (a batched command reports its batch's duration) and
	// whether it replied with an error.
	ObserveCommand(name string, d time.Duration, failed bool)
	// ConnOpened records an accepted client.
	ConnOpened()
	// ConnClosed records a client that went away.
	ConnClosed()
	// ConnRejected records a client refused at accept time; reason is
	// "maxclients" or "protected".
	ConnRejected(reason string)
}
