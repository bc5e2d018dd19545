//go:build !linux || !cgo

// Package prefault maps a short-lived lodger process's pages in bulk at
// start; without cgo (or off Linux) it does nothing.
package prefault
