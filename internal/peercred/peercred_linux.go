// Package peercred refuses the peers of lodger's unix sockets that are
// not the user who serves them. Each socket (the Engine API's, a user
// network gateway's attach and relay sockets, a container's attach
// socket) already sits in a directory only its user can enter, with a
// mode only its user can connect through; the kernel's record of who
// connected (SO_PEERCRED) is the second lock, for the day a directory or
// a socket is opened to others by mistake.
package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ErrOtherUser: the peer runs as another user.
var ErrOtherUser = errors.New("the peer is another user")

// Check returns nil when c's peer runs as this process's user, as the
// kernel recorded it at connect(2) (seen from this process's user
// namespace: a user the namespace does not map shows as the overflow
// id, never as ours).
func Check(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("%w (uid %d, pid %d)", ErrOtherUser, cred.Uid, cred.Pid)
	}
	return nil
}

// Listener accepts only connections whose peer is this process's user:
// another's is closed unanswered and reported to Refused (when set),
// and Accept waits for the next.
type Listener struct {
	net.Listener
	Refused func(error)
}

// Accept returns the next connection from this process's user.
func (l Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("peercred: %T is not a unix socket's connection", c)
		}
		if err := Check(uc); err != nil {
			c.Close()
			if l.Refused != nil {
				l.Refused(err)
			}
			continue
		}
		return c, nil
	}
}

// UnixListener is Listener's kind for servers that take *net.UnixConn:
// its AcceptUnix returns only this process's user's connections.
type UnixListener struct {
	*net.UnixListener
	Refused func(error)
}

// AcceptUnix returns the next connection from this process's user.
func (l UnixListener) AcceptUnix() (*net.UnixConn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if err := Check(c); err != nil {
			c.Close()
			if l.Refused != nil {
				l.Refused(err)
			}
			continue
		}
		return c, nil
	}
}

// Accept is AcceptUnix for a net.Listener's users.
func (l UnixListener) Accept() (net.Conn, error) { return l.AcceptUnix() }
