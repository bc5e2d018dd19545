package netstack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A published TCP port's connections are carried by the kernels alone
// when the container's namespace allows it, which it does unless its
// kernel lacks policy routing: the monitor accepts the client on the host,
// opens a socket inside the container's network namespace that takes the
// client's address and port as its own (IP_TRANSPARENT), connects it to
// the container's address, and splices the two sockets inside the kernel.
// The server in the container sees the client, as through the stack, but
// no byte is copied through user space or the stack.
//
// The server's replies go to a foreign address, the client's. They come
// back to the monitor's socket over the container's loopback: the socket
// carries inboundMark, the server's accepted socket inherits it from the
// handshake (net.ipv4.tcp_fwmark_accept, in the container's namespace
// only), and a rule sends marked packets to a table that delivers every
// address locally. Nothing else in the container is marked, so nothing
// else is routed differently.
const (
	inboundMark     = 0x4c4f4447 // "LODG"
	inboundTable    = 0x4c4f
	inboundRulePref = 100 // after the local table's rule (0), before main's (32766)
)

// routeInbound prepares the container's namespace for kernel-carried
// published connections; it runs on a thread in that namespace.
func routeInbound(c Config) error {
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_fwmark_accept", []byte("1"), 0); err != nil {
		return fmt.Errorf("net.ipv4.tcp_fwmark_accept: %w", err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, _ := unix.NewIfreq("lo")
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("index of lo: %w", err)
	}
	lo := ifr.Uint32()
	// Up already, for the route; the container's init would bring it up
	// later.
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	nl, err := newNetlink()
	if err != nil {
		return err
	}
	defer nl.close()
	families := []uint8{unix.AF_INET}
	if c.IPv6 {
		families = append(families, unix.AF_INET6)
	}
	for _, fam := range families {
		if err := nl.addMarkRule(fam, inboundMark, inboundTable, inboundRulePref); err != nil {
			return fmt.Errorf("routing rule for published ports: %w", err)
		}
		if err := nl.addLocalDefault(fam, inboundTable, lo); err != nil {
			return fmt.Errorf("local route for published ports: %w", err)
		}
	}
	return nil
}

// addMarkRule: packets marked mark look up table (ip rule add fwmark).
func (n *netlinkConn) addMarkRule(fam uint8, mark, table, pref uint32) error {
	// struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1,
	// res2, action, then 32 bits of flags.
	hdr := [12]byte{0: fam, 4: unix.RT_TABLE_UNSPEC, 7: unix.FR_ACT_TO_TBL}
	body := hdr[:]
	body = append(body, rtattr(unix.FRA_FWMARK, u32(mark))...)
	body = append(body, rtattr(unix.FRA_FWMASK, u32(0xffffffff))...)
	body = append(body, rtattr(unix.FRA_TABLE, u32(table))...)
	body = append(body, rtattr(unix.FRA_PRIORITY, u32(pref))...)
	return n.request(unix.RTM_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// addLocalDefault: in table, every address is local, through lo
// (ip route add local default dev lo table T).
func (n *netlinkConn) addLocalDefault(fam uint8, table, lo uint32) error {
	msg := unix.RtMsg{
		Family:   fam,
		Table:    unix.RT_TABLE_UNSPEC,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_HOST,
		Type:     unix.RTN_LOCAL,
	}
	body := (*[unix.SizeofRtMsg]byte)(unsafe.Pointer(&msg))[:]
	body = append(body, rtattr(unix.RTA_TABLE, u32(table))...)
	body = append(body, rtattr(unix.RTA_OIF, u32(lo))...)
	return n.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// netnsSockets makes sockets in a container's network namespace: a thread
// that joined it keeps a few ready for each family, so that a client does
// not wait for one to be made. A socket stays in the namespace it was
// made in, so the rest of the process uses it as any other.
type netnsSockets struct {
	ready  map[int]chan int // by family
	refill chan struct{}
	done   chan struct{}
}

// socketsReady is how many sockets of each family wait for clients.
const socketsReady = 4

func newNetnsSockets(pid int, ipv6 bool) (*netnsSockets, error) {
	ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's network namespace: %w", err)
	}
	m := &netnsSockets{
		ready:  map[int]chan int{unix.AF_INET: make(chan int, socketsReady)},
		refill: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	if ipv6 {
		m.ready[unix.AF_INET6] = make(chan int, socketsReady)
	}
	joined := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine rather than
		// go back to the runtime in the container's namespace.
		runtime.LockOSThread()
		err := unix.Setns(ns, unix.CLONE_NEWNET)
		unix.Close(ns)
		if err == nil {
			// The first tells whether the kernel lets this process
			// make such sockets at all.
			var fd int
			if fd, err = inboundSocket(unix.AF_INET); err == nil {
				m.ready[unix.AF_INET] <- fd
			}
		}
		joined <- err
		if err != nil {
			return
		}
		defer m.drain()
		for {
			for family, c := range m.ready {
				for len(c) < cap(c) {
					fd, err := inboundSocket(family)
					if err != nil {
						break // out of fds, say: a client asks again
					}
					c <- fd
				}
			}
			select {
			case <-m.refill:
			case <-m.done:
				return
			}
		}
	}()
	if err := <-joined; err != nil {
		return nil, fmt.Errorf("sockets in the container's network namespace: %w", err)
	}
	return m, nil
}

// inboundSocket makes a non-blocking TCP socket that may take a foreign
// address, marked for the route back to it (see routeInbound).
func inboundSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, err
	}
	level, opt := unix.SOL_IP, unix.IP_TRANSPARENT
	if family == unix.AF_INET6 {
		level, opt = unix.SOL_IPV6, unix.IPV6_TRANSPARENT
	}
	if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("transparent socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, inboundMark); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mark socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, nil
}

// socket takes a ready socket of family, waiting for one if none is, for
// half a second at most (the thread cannot make them: out of fds, say).
func (m *netnsSockets) socket(family int) (int, error) {
	c, ok := m.ready[family]
	if !ok {
		return -1, unix.EAFNOSUPPORT
	}
	for range 50 {
		select {
		case fd := <-c:
			m.askRefill()
			return fd, nil
		case <-m.done:
			return -1, net.ErrClosed
		default:
		}
		m.askRefill()
		select {
		case fd := <-c:
			m.askRefill()
			return fd, nil
		case <-m.done:
			return -1, net.ErrClosed
		case <-time.After(10 * time.Millisecond):
			// The thread could not make one: ask again.
		}
	}
	return -1, errors.New("no socket in the container's network namespace: the monitor may be out of file descriptors")
}

func (m *netnsSockets) askRefill() {
	select {
	case m.refill <- struct{}{}:
	default:
	}
}

// drain closes the sockets nobody took; the thread runs it as it ends.
func (m *netnsSockets) drain() {
	for _, c := range m.ready {
		for {
			select {
			case fd := <-c:
				unix.Close(fd)
				continue
			default:
			}
			break
		}
	}
}

func (m *netnsSockets) close() { close(m.done) }

// dialKernel connects to the container's address to, from the foreign
// address from, with a socket in the container's namespace. The client's
// port is kept where it is free; a connection of the same client port
// still closing in the container takes another. bound, when not nil,
// learns the socket's address before it connects.
func (st *Stack) dialKernel(from, to netip.AddrPort, bound func(netip.AddrPort)) (*os.File, error) {
	fam := unix.AF_INET
	if to.Addr().Is6() {
		fam = unix.AF_INET6
	}
	fd, err := st.netns.socket(fam)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "published")
	if err := unix.Bind(fd, sockaddr(fam, from)); err != nil {
		if err := unix.Bind(fd, sockaddr(fam, netip.AddrPortFrom(from.Addr(), 0))); err != nil {
			f.Close()
			return nil, fmt.Errorf("bind as %s: %w", from.Addr(), err)
		}
	}
	if bound != nil {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			f.Close()
			return nil, err
		}
		bound(addrPort(sa))
	}
	if err := connectNonblock(st.ctx, f, sockaddr(fam, to), st.cfg.DialTimeout); err != nil {
		f.Close()
		return nil, fmt.Errorf("connect to the container's port %d: %w", to.Port(), err)
	}
	return f, f.SetWriteDeadline(time.Time{})
}

// connectNonblock connects the non-blocking socket f in the runtime's
// poller, waiting at most timeout, and no longer than ctx lasts: the
// stack's, which ends when the container does. A connect whose answer
// never comes (a client that came before the container's server
// listened: the refusal, addressed to the client's address, leaves by the
// container's link) otherwise held the stack's Close, and so the
// container's stop, for the whole timeout (seen as 10 s stops after
// testcontainers' port check).
func connectNonblock(ctx context.Context, f *os.File, to unix.Sockaddr, timeout time.Duration) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := f.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Now()) })
	defer stop()
	started := false
	var cerr error
	err = rc.Write(func(fd uintptr) bool {
		if !started {
			started = true
			cerr = unix.Connect(int(fd), to)
			return cerr != unix.EINPROGRESS
		}
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			cerr = err
			if v != 0 {
				cerr = unix.Errno(v)
			}
			return true
		}
		// Writable before the handshake ended: the poller's first
		// readiness, from before connect.
		if _, err := unix.Getpeername(int(fd)); errors.Is(err, unix.ENOTCONN) {
			return false
		}
		cerr = nil
		return true
	})
	if err != nil {
		return err
	}
	return cerr
}

// rawStream is a TCP socket in the runtime's poller: a *net.TCPConn, or
// an *os.File of a non-blocking socket.
type rawStream interface {
	SyscallConn() (syscall.RawConn, error)
	Close() error
}

// spliceKernel copies both ways between two host sockets inside the
// kernel, passing half closes on, and closes both when both directions
// ended; a broken direction ends the other too.
func (st *Stack) spliceKernel(a, b rawStream) {
	pump := func(dst, src rawStream) func() error {
		return func() error {
			if err := kernelCopy(dst, src); err != nil {
				return err
			}
			return closeWrite(dst)
		}
	}
	st.both(a, b, pump(a, b), pump(b, a))
}

// closeWrite passes the end of a stream on (shutdown(SHUT_WR)).
func closeWrite(s rawStream) error {
	rc, err := s.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}

// Pipe sizes of kernelCopy: a pipe starts at the kernel's default and
// grows once a connection moves bulk data, so that a thousand quiet
// connections do not use up the user's pipe allowance
// (fs.pipe-user-pages-soft), which all of the user's programs share. A
// pipe's slots can fill with fragments before its bytes do, so a full
// pipe is no sign of bulk; a large splice is.
const (
	pipeStart = 64 << 10
	pipeGrow  = 16 << 10 // a splice this large: bulk
	pipeBulk  = 1 << 20
)

// kernelCopy moves what src receives to dst until src's end of stream:
// splice from the socket into a pipe of this copy's own, then from the
// pipe into the other socket, waiting in the runtime's poller. The pipe
// is closed when the copy ends (the runtime's own splice keeps its pipes
// in a pool that only a garbage collection empties).
func kernelCopy(dst, src rawStream) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	in, err := src.SyscallConn()
	if err != nil {
		return err
	}
	out, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	size := pipeStart
	for {
		var n int64
		var serr error
		err := in.Read(func(fd uintptr) bool {
			n, serr = spliceRetry(int(fd), p[1], size)
			return serr != unix.EAGAIN
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n >= pipeGrow && size < pipeBulk {
			if got, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, pipeBulk); err == nil {
				size = got
			}
		}
		for n > 0 {
			var m int64
			err := out.Write(func(fd uintptr) bool {
				m, serr = spliceRetry(p[0], int(fd), int(n))
				return serr != unix.EAGAIN
			})
			if err == nil {
				err = serr
			}
			if err != nil {
				return err
			}
			n -= m
		}
	}
}

// spliceRetry moves up to n bytes from in to out without blocking.
func spliceRetry(in, out, n int) (int64, error) {
	for {
		m, err := unix.Splice(in, nil, out, nil, n, unix.SPLICE_F_NONBLOCK)
		if err != unix.EINTR {
			return m, err
		}
	}
}
