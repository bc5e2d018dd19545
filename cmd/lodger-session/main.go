// Command lodger-session keeps a user's lodger session: the user and mount
// namespaces every lodger command of that user joins. lodger starts it
// when there is none; it is a program of its own, apart from lodger, so
// that the keeper a user has running all the time is small.
package main

import (
	"fmt"
	"os"

	_ "github.com/lodger-containers/lodger/rootless/nsenter" // the pause process, before main
	"github.com/lodger-containers/lodger/rootless/session"
)

func main() {
	if ok, code := session.KeeperMain(); ok {
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "lodger-session: lodger starts this program when it needs a session; run lodger")
	os.Exit(2)
}
