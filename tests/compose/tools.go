//go:build tools

// Package compose pins docker compose v5, which the end-to-end tests
// build (tests/e2e/run.sh) and drive against lodger's Engine API socket
// (issue 15). A module of its own: lodger never links compose.
package compose

import _ "github.com/docker/compose/v5/cmd"
