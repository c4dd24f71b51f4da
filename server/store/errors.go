package store

import "errors"

// ErrNotRun is returned by a Router's Forward when the request was not
// run: the node it went to does not consider itself the primary of its
// keys (their views of who is healthy differ), or it was never sent. The
// sender routes it again. Errors that wrap it keep that meaning across the
// cluster transport (the cluster registers it).
var ErrNotRun = errors.New("store: not run at the primary")
