// Command lodger-socket holds the Engine API socket of `lodger system
// service` while the service is idle, and starts the service again when a
// client connects (package holder). lodger runs it in its own place (the
// same pid) when it is beside lodger; it is a program of its own so that
// what an idle service keeps resident is small.
//
//	lodger-socket -fd N [-idle D] [-server-idle D] [-remove PATH] -- LODGER ARGS...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lodger-containers/lodger/internal/holder"
)

func main() {
	fd := flag.Int("fd", -1, "the listening socket")
	var o holder.Options
	flag.DurationVar(&o.Idle, "idle", 0, "exit after this long without a connection (0: never)")
	flag.DurationVar(&o.ServerIdle, "server-idle", 0, "how long the server stays when idle")
	flag.StringVar(&o.Remove, "remove", "", "the socket's path, removed at exit")
	flag.Parse()
	if *fd < 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "lodger-socket: lodger system service runs this program; run lodger system service")
		os.Exit(2)
	}
	o.Listener = os.NewFile(uintptr(*fd), "listener")
	o.Server = flag.Args()
	o.Env = append(os.Environ(), holder.ListenerEnv+"=3")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := holder.Run(o, sigs); err != nil {
		fmt.Fprintln(os.Stderr, "lodger-socket:", err)
		os.Exit(1)
	}
}
