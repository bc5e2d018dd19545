//go:build linux && cgo

// Package nsinit is the container init: a C constructor that, when lodger
// is re-executed as "_lodger-init", carries out the program the exec
// package computed and execs the container's command before the Go runtime
// ever starts. Import it for its side effect from package main only.
package nsinit

// #cgo CFLAGS: -Wall -O2
import "C"
