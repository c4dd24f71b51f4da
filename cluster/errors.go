package cluster

import "errors"

// ErrInvalidConfig wraps every NodeConfig.Validate failure of the node's
// own settings; a sub-config's failure wraps its package's sentinel.
var ErrInvalidConfig = errors.New("cluster: invalid config")
