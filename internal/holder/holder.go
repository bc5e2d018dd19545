// Package holder keeps a listening socket while the server behind it is
// gone, and starts the server again when a client connects: what systemd's
// socket activation does for a unit, done by a process small enough to
// stay. lodger's Engine API service is a large program (the whole
// library: images, storage, builds); idle, it would keep tens of
// megabytes of its own pages resident for nothing. The holder keeps
// only the socket: connections made while no server runs wait in the
// socket's backlog until the server it starts accepts them, so none is
// refused or lost.
package holder

import (
	"errors"
	"os"
	"time"
)

// Options say what to hold and what to start.
type Options struct {
	// Listener is the listening socket; every server gets it as fd 3.
	Listener *os.File
	// Server is the server's command line, argv[0] a path. It serves
	// Listener and exits 0 once it has been idle for ServerIdle.
	Server []string
	// Env is the server's environment.
	Env []string
	// Idle is how long the holder stays without a connection, the
	// server's own idle time included, before it exits; 0 is never.
	Idle time.Duration
	// ServerIdle is how long the server stays idle before it exits.
	ServerIdle time.Duration
	// Remove, when not empty, is the socket's path, removed when the
	// holder exits (a socket systemd made is systemd's to remove).
	Remove string
}

// ListenerEnv names the variable that tells the server which fd is the
// listening socket it is given.
const ListenerEnv = "_LODGER_SERVICE_FD"

// ErrServer says the server exited with an error; the holder exits too
// rather than start it again and again.
var ErrServer = errors.New("server failed")
