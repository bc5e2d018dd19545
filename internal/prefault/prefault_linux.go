//go:build linux && cgo

// Package prefault maps a short-lived lodger process's pages in bulk at
// start, instead of one page fault at a time: its C constructor the
// binary's code and data before the Go runtime starts, its init the
// first megabytes of the Go heap. Import it for its side effect, first,
// from package main only; see docs/architecture.md, "Start-up".
//
// LODGER_PREFAULT=0 turns it off (to compare, or where faults are
// cheap: on bare metal a fault costs well under a microsecond and the
// bulk mapping saves little).
package prefault

// extern int lodger_prefault_on;
import "C"

import (
	"syscall"
	"unsafe"
)

const (
	madvPopulateWrite = 23
	// heapAhead is how much of the heap after the first allocation init
	// maps: the runtime maps the heap 4 MB at a time, and a command's
	// package initialisation allocates some 2 MB.
	heapAhead = 4 << 20
	// step is populated per call, so that the calls stop at the end of
	// what the runtime has mapped instead of failing as a whole.
	step = 64 << 10
)

var first *[16]byte

// init runs early among the package initialisers: it imports only the
// runtime's own packages, and the ones after it allocate most of what
// initialisation allocates. Pages already mapped cost nothing.
func init() {
	if C.lodger_prefault_on == 0 {
		return
	}
	first = new([16]byte)
	base := uintptr(unsafe.Pointer(first)) &^ (step - 1)
	for off := uintptr(0); off < heapAhead; off += step {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, base+off, step, madvPopulateWrite); e != 0 {
			return
		}
	}
}
