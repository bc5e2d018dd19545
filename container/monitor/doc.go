// Package monitor is the process that watches over one detached container,
// and the CLI's side of starting it.
//
// The monitor is its own program, cmd/lodger-monitor, so that what stays
// resident for every idle container is small: this package, the runtime
// (package exec, whose init is the monitor's binary re-executed) and the
// userspace network; never storage or image code. The CLI works out every
// path the monitor writes to and sends it a Request on fd 3 (Start); the
// monitor (Main) then:
//
//   - opens the log (log.go) and, for netstack, the container's network,
//     on the host ports the CLI bound and passed as fds 5 and up;
//   - serves the attach socket (attach_linux.go);
//   - starts the container, records its State in the run directory
//     (state.go) and answers "ok" on fd 4, or the init's error;
//   - copies its output into the log until it exits, records the exit,
//     and starts it again as its RestartPolicy says (restart.go);
//   - when no restart follows, runs Request.Cleanup, lodger's own command
//     that unmounts the root filesystem and deletes a --rm container, and
//     waits for it before exiting.
//
// The CLI reads what the monitor wrote through LoadState, and talks to it
// through the attach frames and the stop mark (RequestStop).
package monitor
