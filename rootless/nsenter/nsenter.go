//go:build linux && cgo

// Package nsenter joins lodger's session user and mount namespaces from a C
// constructor, before the Go runtime starts its threads (a multithreaded
// process cannot setns into a user namespace). Import it for its side effect
// from package main only.
package nsenter

/*
#cgo CFLAGS: -Wall
extern int lodger_joined_pid;
extern unsigned lodger_host_uid, lodger_host_gid;
*/
import "C"

import (
	"os"
	"strconv"
)

// init publishes what the constructor did. The Go runtime took its copy of
// the environment from the initial stack, so the constructor cannot set
// these itself. Children inherit them, and go.podman.io/storage and image
// read the _CONTAINERS_ ones to behave as under rootless podman.
func init() {
	if C.lodger_joined_pid == 0 {
		return
	}
	os.Setenv("_LODGER_JOINED", strconv.Itoa(int(C.lodger_joined_pid)))
	os.Setenv("_CONTAINERS_ROOTLESS_UID", strconv.Itoa(int(C.lodger_host_uid)))
	os.Setenv("_CONTAINERS_ROOTLESS_GID", strconv.Itoa(int(C.lodger_host_gid)))
	os.Setenv("_CONTAINERS_USERNS_CONFIGURED", "done")
	os.Unsetenv("_LODGER_JOIN_PID")
}
