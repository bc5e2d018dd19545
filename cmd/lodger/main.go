// Command lodger is a daemonless, rootless container runner.
package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"time"

	"go.podman.io/storage/pkg/reexec"

	"github.com/lodger-containers/lodger/container"
	_ "github.com/lodger-containers/lodger/exec/nsinit" // the container init, before main
	_ "github.com/lodger-containers/lodger/internal/prefault"
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
	quietStart()
	os.Exit(execute(context.Background(), os.Args[1:]))
}

// quietStart holds off the garbage collector while a command starts. Most
// commands (run --rm, exec, ps, inspect) are over within tens of
// milliseconds, before a collection would free anything worth its cost;
// a collection then only delays them (about 4 ms of a 60 ms `run --rm`).
// A command still running after startGCAfter gets the usual collector
// back, unless it chose its own meanwhile (a foreground run that carries
// its container's network sets 400); until then one runs only should the
// heap pass startGCLimit.
func quietStart() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return // the user's own settings
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(startGCLimit)
	time.AfterFunc(startGCAfter, func() {
		if debug.SetMemoryLimit(-1) == startGCLimit { // -1 only reads it
			debug.SetMemoryLimit(math.MaxInt64)
		}
		if prev := debug.SetGCPercent(100); prev != -1 {
			debug.SetGCPercent(prev)
		}
	})
}

const (
	startGCAfter = 250 * time.Millisecond
	startGCLimit = 64 << 20
)
