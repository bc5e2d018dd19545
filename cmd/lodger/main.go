// Command lodger is a daemonless, rootless container runner.
package main

import (
	"context"
	"os"

	"go.podman.io/storage/pkg/reexec"

	"github.com/lodger-containers/lodger/container"
	_ "github.com/lodger-containers/lodger/exec/nsinit" // the container init, before main
	"github.com/lodger-containers/lodger/rootless"
	_ "github.com/lodger-containers/lodger/rootless/nsenter" // joins the session namespace before main
)

func main() {
	// Re-executed roles first: the session keeper and storage's own
	// helpers never reach cobra. (The container init never reaches Go at
	// all: exec/nsinit runs it from a C constructor.)
	if len(os.Args) > 1 && os.Args[1] == container.MonitorArg {
		os.Exit(container.MonitorMain())
	}
	if ok, code := rootless.KeeperMain(); ok {
		os.Exit(code)
	}
	if reexec.Init() {
		return
	}
	os.Exit(execute(context.Background(), os.Args[1:]))
}
