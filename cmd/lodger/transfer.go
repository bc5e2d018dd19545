//go:build lodger_transfer

package main

import (
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image/transfer"
)

// pullFunc is run's and create's pull.
var pullFunc container.PullFunc = transfer.Pull

// isTransfer says which binary this is: lodger-transfer, the whole
// command tree, which hands nothing over.
const isTransfer = true
