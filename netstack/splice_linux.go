package netstack

import (
	"errors"
	"io"
	"net"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/waiter"
)

// stackConn is a TCP connection in the stack: gonet's net.Conn for
// closing, and the endpoint itself for the copy loops below, which move
// bytes between the stack and a host socket with one copy instead of
// gonet's two (the host's kernel reads from, or writes into, the stack's
// own buffers).
type stackConn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
	wq *waiter.Queue
}

func newStackConn(wq *waiter.Queue, ep tcpip.Endpoint) *stackConn {
	return &stackConn{TCPConn: gonet.NewTCPConn(wq, ep), ep: ep, wq: wq}
}

// errHostFull: the host socket takes no more now.
var errHostFull = errors.New("host socket full")

// fdWriter writes what the stack hands it straight into a non-blocking
// host socket, never waiting: a full socket ends the write short, and the
// stack keeps the rest.
type fdWriter struct {
	fd   int
	full bool
	err  error
}

func (w *fdWriter) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(w.fd, b[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			w.full = true
			return done, errHostFull
		case err != nil:
			w.err = err
			return done, err
		case n == 0:
			w.full = true
			return done, errHostFull
		}
	}
	return done, nil
}

// copyOut moves what the container sent on c to the host socket dst, and
// half-closes dst at the container's end of stream.
func copyOut(dst *net.TCPConn, c *stackConn) error {
	rc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	entry, notify := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	c.wq.EventRegister(&entry)
	defer c.wq.EventUnregister(&entry)
	for {
		var tcpipErr tcpip.Error
		var werr error
		err := rc.Write(func(fd uintptr) bool {
			w := fdWriter{fd: int(fd)}
			_, tcpipErr = c.ep.Read(&w, tcpip.ReadOptions{})
			werr = w.err
			// Nothing went out for a full socket: wait until it drains.
			_, bad := tcpipErr.(*tcpip.ErrBadBuffer)
			return !(bad && w.full)
		})
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		switch tcpipErr.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			<-notify
		case *tcpip.ErrClosedForReceive:
			return dst.CloseWrite()
		default:
			return errors.New(tcpipErr.String())
		}
	}
}

// fdReader hands the stack exactly the bytes a host socket holds.
type fdReader struct {
	fd   int
	left int
	err  error
}

func (r *fdReader) Len() int { return r.left }

func (r *fdReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > r.left {
		b = b[:r.left]
	}
	for {
		n, err := unix.Read(r.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			// The bytes counted are there, so this is the socket's
			// error (a reset); the stack drops this write.
			r.err = err
			if r.err == nil {
				r.err = io.ErrUnexpectedEOF
			}
			return 0, r.err
		}
		r.left -= n
		return n, nil
	}
}

// copyIn moves what the host socket src receives into the stack's c, and
// half-closes c at the host's end of stream.
func copyIn(c *stackConn, src *net.TCPConn) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	c.wq.EventRegister(&entry)
	defer c.wq.EventUnregister(&entry)
	for {
		var tcpipErr tcpip.Error
		var rerr error
		eof := false
		err := rc.Read(func(fd uintptr) bool {
			n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
			if err != nil {
				rerr = err
				return true
			}
			if n == 0 {
				// Nothing yet, or the end: a peek tells which.
				var one [1]byte
				m, _, err := unix.Recvfrom(int(fd), one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
				switch {
				case err == unix.EAGAIN || err == unix.EINTR:
					return false
				case err != nil:
					rerr = err
				case m == 0:
					eof = true
				}
				return true
			}
			r := fdReader{fd: int(fd), left: n}
			_, tcpipErr = c.ep.Write(&r, tcpip.WriteOptions{})
			rerr = r.err
			return true
		})
		if err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		if eof {
			return c.CloseWrite()
		}
		switch tcpipErr.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			<-notify
		default:
			return errors.New(tcpipErr.String())
		}
	}
}
