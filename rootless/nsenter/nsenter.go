//go:build linux && cgo

// Package nsenter joins lodger's session user and mount namespaces from a C
// constructor, before the Go runtime starts its threads (a multithreaded
// process cannot setns into a user namespace). Import it for its side effect
// from package main only.
package nsenter

/*
#cgo CFLAGS: -Wall
*/
import "C"
