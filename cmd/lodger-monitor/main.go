// Command lodger-monitor watches over one detached container for lodger:
// it starts the container, keeps its log and state, serves attach, runs
// its restart policy and its userspace network, and hands the cleanup
// back to lodger. It links no image or storage code, so that an idle
// container costs little memory; lodger starts it, never the user.
package main

import (
	"fmt"
	"os"

	"github.com/lodger-containers/lodger/container/monitor"
	_ "github.com/lodger-containers/lodger/exec/nsinit" // the container init, before main
	"github.com/lodger-containers/lodger/network/bridge"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == bridge.GatewayArg {
		os.Exit(bridge.GatewayMain(os.Args[2:]))
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "lodger-monitor: lodger starts this program for a detached container; run lodger instead")
		os.Exit(2)
	}
	os.Exit(monitor.Main())
}
