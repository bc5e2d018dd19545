// Package apiversion holds the Engine API versions lodger serves, apart
// from package api so that `lodger version` reports them without linking
// the API server (and, through it, the registry client and the builder:
// docs/architecture.md, "Start-up").
package apiversion

// Current is the schema of the github.com/moby/moby/api types the
// reports are built on; clients negotiate down from it, and every
// version from Min up is accepted in a path prefix (and none at all).
const (
	Current = "1.56"
	Min     = "1.24"
)
