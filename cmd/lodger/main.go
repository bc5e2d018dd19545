// Command lodger is a daemonless, rootless container runner.
package main

import (
	"context"
	"os"

	"go.podman.io/storage/pkg/reexec"

	"github.com/lodger-containers/lodger/container"
	_ "github.com/lodger-containers/lodger/exec/nsinit"      // the container init, before main
	_ "github.com/lodger-containers/lodger/rootless/nsenter" // joins the session namespace before main
	"github.com/lodger-containers/lodger/rootless/session"
)

func main() {
	// Re-executed roles first: the cleanup after a detached container,
	// the session keeper and storage's own helpers never reach cobra. (The
	// container init never reaches Go at all: exec/nsinit runs it from a C
	// constructor.)
	if len(os.Args) > 1 && os.Args[1] == container.CleanupArg {
		os.Exit(container.CleanupMain())
	}
	if ok, code := session.KeeperMain(); ok {
		os.Exit(code)
	}
	if reexec.Init() {
		return
	}
	os.Exit(execute(context.Background(), os.Args[1:]))
}
