package netstack

// The bypass. A TCP connection the container opens to the outside would
// cost four copies in the kernel and a trip through the stack for every
// byte (container socket → TAP → stack → host socket, and back). Instead
// the container's init puts connect(2) under a seccomp filter whose
// listener this process serves (exec.Hooks.Connect): for a TCP socket
// connecting to an address the policy lets the stack dial unchanged, a
// socket is made here, in the host's network namespace, connected, and
// installed over the container's descriptor (SECCOMP_IOCTL_NOTIF_ADDFD
// with SECCOMP_ADDFD_FLAG_SETFD); the connect then returns what the
// host's connect did. Every other connect continues in the kernel
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and takes the stack's path, which
// refuses what the policy refuses. The continued connect re-reads its
// arguments, so a container that changes them after the check gains
// nothing: the check only ever decides what this process connects.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct seccomp_notif, seccomp_notif_resp and seccomp_notif_addfd
// (linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompNotifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// The kernel's sizes of the three (80, 24 and 24 bytes), checked at
// compile time.
var (
	_ [unsafe.Sizeof(seccompNotif{}) - 80]byte
	_ [80 - unsafe.Sizeof(seccompNotif{})]byte
	_ [unsafe.Sizeof(seccompNotifResp{}) - 24]byte
	_ [24 - unsafe.Sizeof(seccompNotifResp{})]byte
	_ [unsafe.Sizeof(seccompNotifAddfd{}) - 24]byte
	_ [24 - unsafe.Sizeof(seccompNotifAddfd{})]byte
)

// pidfdThread (PIDFD_THREAD, Linux 6.9) opens a pidfd of a thread that
// is not its process's leader: a multithreaded program connects from
// any of its threads.
const pidfdThread = unix.O_EXCL

// connectTrap serves one container's connect listener.
type connectTrap struct {
	st *Stack
	f  *os.File
	rc syscall.RawConn
	// dialing bounds the host connects in flight, as max_half_open
	// bounds the stack's handshakes: each holds a descriptor here (the
	// host's socket) and a goroutine for up to the dial timeout, waiting
	// in the runtime's poller, not a thread (issue 12).
	dialing chan struct{}
	// serving bounds the accepts served at once (issue 12), as dialing
	// the connects: a call past either continues in the kernel at once,
	// which costs the monitor nothing (a connect then takes the stack's
	// path, an accept the kernel's).
	serving chan struct{}
}

// maxServing is how many trapped accepts are served at once: each takes
// microseconds and up to three descriptors (accept_linux.go).
const maxServing = 16

// serveConnect serves the listener of the container's connect filter
// (non-blocking, so that the Go poller watches it) until the stack closes
// or every process under the filter is gone.
func (st *Stack) serveConnect(listener *os.File) {
	t := &connectTrap{st: st, f: listener, dialing: make(chan struct{}, st.cfg.MaxHalfOpen), serving: make(chan struct{}, maxServing)}
	var err error
	if t.rc, err = listener.SyscallConn(); err != nil {
		// Not served, the container's connect fails with ENOSYS.
		st.logf("network: connect listener: %v", err)
		listener.Close()
		return
	}
	// Registered for Close in the same step as counted in: a Close in
	// between would otherwise wait for a listener it never closed.
	st.mu.Lock()
	if st.ctx.Err() != nil {
		st.mu.Unlock()
		listener.Close()
		return
	}
	st.trap = listener
	st.wg.Add(1)
	st.mu.Unlock()
	go func() {
		defer st.wg.Done()
		t.serve()
	}()
}

func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// control runs an ioctl on the listener, unless it is closed.
func (t *connectTrap) control(req uint, arg unsafe.Pointer) error {
	var err error
	if cerr := t.rc.Control(func(fd uintptr) { err = ioctl(fd, req, arg) }); cerr != nil {
		return cerr
	}
	return err
}

func (t *connectTrap) serve() {
	defer t.f.Close()
	for {
		var n seccompNotif
		var recvErr error
		hup := false
		err := t.rc.Read(func(fd uintptr) bool {
			// SECCOMP_IOCTL_NOTIF_RECV blocks when nothing is pending, so
			// it is asked only once poll says something is.
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if k, err := unix.Poll(pfd, 0); err != nil || k == 0 {
				return false
			}
			if pfd[0].Revents&unix.POLLIN == 0 {
				hup = pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
				return hup
			}
			n = seccompNotif{}
			recvErr = ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
			return true
		})
		switch {
		case err != nil || hup:
			return // closed, or no process under the filter is left
		case recvErr != nil:
			// ENOENT: the caller was interrupted before we took it.
			if errors.Is(recvErr, unix.ENOENT) || errors.Is(recvErr, unix.EINTR) {
				continue
			}
			t.st.logf("network: connect listener: %v; connections now fail", recvErr)
			return
		}
		// Too many at once: the kernel's way.
		slots := t.dialing
		if isAccept(n.Nr) {
			slots = t.serving
		}
		select {
		case slots <- struct{}{}:
		default:
			t.answer(n.ID, 0, true)
			continue
		}
		if !t.st.enter() {
			t.answer(n.ID, 0, true)
			return
		}
		go func() {
			defer t.st.wg.Done()
			defer func() { <-slots }()
			t.handle(&n)
		}()
	}
}

// answer ends the container's connect with -errno, or lets it continue in
// the kernel.
func (t *connectTrap) answer(id uint64, errno syscall.Errno, cont bool) {
	resp := seccompNotifResp{ID: id, Error: -int32(errno)}
	if cont {
		resp = seccompNotifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	}
	// ENOENT: the caller is gone or was interrupted (a signal); it
	// restarts or never learns the answer.
	_ = t.control(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
}

// valid says whether the notification id still stands: its process has
// not died (and its pid been reused) since.
func (t *connectTrap) valid(id uint64) bool {
	return t.control(unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// errGone: the notification is void (its caller died or was interrupted).
var errGone = errors.New("connect caller gone")

func (t *connectTrap) handle(n *seccompNotif) {
	if isAccept(n.Nr) {
		t.handleAccept(n)
		return
	}
	errno, err := t.bypass(n)
	switch {
	case errors.Is(err, errGone):
	case err != nil:
		t.answer(n.ID, 0, true)
	default:
		t.answer(n.ID, errno, false)
	}
}

func isAccept(nr int32) bool { return nr == unix.SYS_ACCEPT || nr == unix.SYS_ACCEPT4 }

// bypass connects a host socket for the container's connect n and puts
// it in place of the container's socket. It returns the errno the
// connect answers, or an error when the connect is to continue in the
// kernel (errGone: nobody waits for an answer).
func (t *connectTrap) bypass(n *seccompNotif) (syscall.Errno, error) {
	pid := int(n.Pid)
	sockfd := int(int32(n.Args[0]))
	addrLen := int(uint32(n.Args[2]))
	if sockfd < 0 || addrLen < unix.SizeofSockaddrInet4 || addrLen > unix.SizeofSockaddrAny {
		return 0, errNotBypassed
	}
	raw := make([]byte, addrLen)
	local := []unix.Iovec{{Base: &raw[0], Len: uint64(addrLen)}}
	remote := []unix.RemoteIovec{{Base: uintptr(n.Args[1]), Len: addrLen}}
	if k, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || k != addrLen {
		return 0, errNotBypassed
	}
	// What was read belongs to the caller only if it still waits.
	if !t.valid(n.ID) {
		return 0, errGone
	}
	family, dst, ok := parseSockaddr(raw)
	if !ok || !t.st.cfg.bypassTo(dst) {
		return 0, errNotBypassed
	}
	dup, err := getFD(pid, sockfd)
	if err != nil {
		return 0, errNotBypassed
	}
	// Closed once read, so that a connect in flight holds one
	// descriptor here.
	closeDup := sync.OnceFunc(func() { unix.Close(dup) })
	defer closeDup()
	if !t.valid(n.ID) {
		return 0, errGone // the pid may have been another process's
	}
	sock, err := inspect(dup, family, dst)
	if err != nil {
		return 0, err
	}
	hs, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return 0, errNotBypassed
	}
	copyOptions(dup, hs, family)
	closeDup()
	// In the runtime's poller, so that a blocking connect's wait costs
	// a goroutine, not a thread.
	hf := os.NewFile(uintptr(hs), "bypass")
	defer hf.Close()
	sock.cloexec = cloexec(pid, sockfd)
	errno := connectErrno(unix.Connect(hs, sockaddr(family, dst)))
	if errno == unix.EINPROGRESS && !sock.nonblock {
		errno = t.wait(hf, sock.sendTimeout)
	}
	if errno != 0 && errno != unix.EINPROGRESS {
		// A failed connect leaves the container's socket as it was,
		// unconnected, as the kernel's would.
		return errno, nil
	}
	if !sock.nonblock {
		if err := unix.SetNonblock(hs, false); err != nil {
			return 0, errNotBypassed
		}
	}
	add := seccompNotifAddfd{ID: n.ID, Flags: unix.SECCOMP_ADDFD_FLAG_SETFD, Srcfd: uint32(hs), Newfd: uint32(sockfd)}
	if sock.cloexec {
		add.NewfdFlags = unix.O_CLOEXEC
	}
	err = t.control(unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&add))
	if err != nil {
		return 0, errGone
	}
	return errno, nil
}

// errNotBypassed: the connect continues in the kernel, through the stack.
var errNotBypassed = errors.New("not bypassed")

// connectErrno is a connect's result as the errno the container sees.
func connectErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return unix.EIO
}

// wait waits for f's connect to end, as a blocking connect would, and
// returns its result: ETIMEDOUT after the dial timeout, or EINPROGRESS
// (the connect goes on) after the socket's SO_SNDTIMEO when that is
// shorter, as the kernel's connect answers; ECONNABORTED when the stack
// closes.
func (t *connectTrap) wait(f *os.File, sendTimeout time.Duration) syscall.Errno {
	timeout, expired := t.st.cfg.DialTimeout, unix.ETIMEDOUT
	if sendTimeout > 0 && sendTimeout < timeout {
		timeout, expired = sendTimeout, unix.EINPROGRESS
	}
	rc, err := f.SyscallConn()
	if err != nil || f.SetWriteDeadline(time.Now().Add(timeout)) != nil {
		return unix.EIO
	}
	stop := context.AfterFunc(t.st.ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var errno syscall.Errno
	err = rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			errno = connectErrno(err)
		case v != 0:
			errno = syscall.Errno(v)
		default:
			// Writable before the handshake ended: the poller's first
			// readiness, from before connect.
			if _, err := unix.Getpeername(int(fd)); errors.Is(err, unix.ENOTCONN) {
				return false
			}
			errno = 0
		}
		return true
	})
	switch {
	case t.st.ctx.Err() != nil:
		return unix.ECONNABORTED
	case errors.Is(err, os.ErrDeadlineExceeded):
		return expired
	case err != nil:
		return connectErrno(err)
	}
	return errno
}

// parseSockaddr reads a struct sockaddr_in or sockaddr_in6 as the
// container passed it.
func parseSockaddr(b []byte) (family int, dst netip.AddrPort, ok bool) {
	family = int(binary.NativeEndian.Uint16(b))
	port := binary.BigEndian.Uint16(b[2:])
	switch {
	case family == unix.AF_INET && len(b) >= unix.SizeofSockaddrInet4:
		return family, netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), true
	case family == unix.AF_INET6 && len(b) >= unix.SizeofSockaddrInet6:
		return family, netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port), true
	}
	return 0, netip.AddrPort{}, false
}

func sockaddr(family int, dst netip.AddrPort) unix.Sockaddr {
	if family == unix.AF_INET {
		return &unix.SockaddrInet4{Addr: dst.Addr().Unmap().As4(), Port: int(dst.Port())}
	}
	return &unix.SockaddrInet6{Addr: dst.Addr().As16(), Port: int(dst.Port())}
}

// getFD duplicates the descriptor fd of the thread tid into this process.
func getFD(tid, fd int) (int, error) {
	pidfd, err := openPidfd(tid)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// openPidfd opens a pidfd of the thread tid, which polls readable when
// the thread has exited; before Linux 6.9, of its process.
func openPidfd(tid int) (int, error) {
	pidfd, err := unix.PidfdOpen(tid, pidfdThread)
	if errors.Is(err, unix.EINVAL) {
		var tgid int
		if tgid, err = threadGroup(tid); err == nil {
			pidfd, err = unix.PidfdOpen(tgid, 0)
		}
	}
	return pidfd, err
}

func threadGroup(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	_, rest, ok := bytes.Cut(b, []byte("\nTgid:"))
	if !ok {
		return 0, fmt.Errorf("no Tgid in /proc/%d/status", tid)
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	return strconv.Atoi(string(bytes.TrimSpace(line)))
}

// socketState is what the container's socket carries over to its
// replacement.
type socketState struct {
	nonblock, cloexec bool
	sendTimeout       time.Duration // SO_SNDTIMEO, which bounds a blocking connect
}

// inspect checks that dup, the container's socket, is an unbound TCP
// socket of family whose connect to dst a host socket can make, and
// reads its flags.
func inspect(dup, family int, dst netip.AddrPort) (socketState, error) {
	var s socketState
	for _, o := range []struct{ opt, want int }{
		{unix.SO_DOMAIN, family}, {unix.SO_TYPE, unix.SOCK_STREAM}, {unix.SO_PROTOCOL, unix.IPPROTO_TCP},
	} {
		if v, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, o.opt); err != nil || v != o.want {
			return s, errNotBypassed
		}
	}
	// Bound (a port, or an address with IP_BIND_ADDRESS_NO_PORT) or
	// connected already: the address is the container's, not the host's.
	sa, err := unix.Getsockname(dup)
	if err != nil {
		return s, errNotBypassed
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a.Port != 0 || a.Addr != [4]byte{} {
			return s, errNotBypassed
		}
	case *unix.SockaddrInet6:
		if a.Port != 0 || a.Addr != [16]byte{} {
			return s, errNotBypassed
		}
	default:
		return s, errNotBypassed
	}
	// Bound to a device of the container's namespace.
	if dev, err := unix.GetsockoptString(dup, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || dev != "" {
		return s, errNotBypassed
	}
	if family == unix.AF_INET6 && dst.Addr().Is4In6() {
		// An IPv6-only socket cannot reach an IPv4 address: the kernel
		// says so.
		if v, err := unix.GetsockoptInt(dup, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err != nil || v != 0 {
			return s, errNotBypassed
		}
	}
	fl, err := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	if err != nil {
		return s, errNotBypassed
	}
	s.nonblock = fl&unix.O_NONBLOCK != 0
	if tv, err := unix.GetsockoptTimeval(dup, unix.SOL_SOCKET, unix.SO_SNDTIMEO); err == nil {
		s.sendTimeout = time.Duration(tv.Nano())
	}
	return s, nil
}

// cloexec reads the close-on-exec flag of the thread tid's descriptor fd,
// which is the descriptor's own and not the socket's.
func cloexec(tid, fd int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return false
	}
	_, rest, ok := bytes.Cut(b, []byte("flags:"))
	if !ok {
		return false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	flags, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 8, 64)
	return err == nil && flags&unix.O_CLOEXEC != 0
}

// Options a program may set on its socket before connect that the host
// socket takes over, where they differ from a new socket's. Buffer sizes
// count too: a fresh socket has the defaults, so a different size was
// asked for (SO_SNDBUF and SO_RCVBUF read back doubled, and setting one
// turns off the kernel's autotuning, which is why an unchanged one is
// left alone). Setting a value the user may not (SO_PRIORITY above 6)
// fails here as it would have there, and the option is left out.
var sockOptions = []struct{ family, level, opt int }{
	{0, unix.SOL_SOCKET, unix.SO_REUSEADDR},
	{0, unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	{0, unix.SOL_SOCKET, unix.SO_PRIORITY},
	{0, unix.SOL_SOCKET, unix.SO_SNDBUF},
	{0, unix.SOL_SOCKET, unix.SO_RCVBUF},
	{0, unix.IPPROTO_TCP, unix.TCP_NODELAY},
	{0, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
	{0, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
	{0, unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	{0, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
	{0, unix.IPPROTO_TCP, unix.TCP_MAXSEG},
	{unix.AF_INET, unix.IPPROTO_IP, unix.IP_TOS},
	{unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_TCLASS},
	{unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY},
}

// copyOptions copies sockOptions, SO_LINGER, the timeouts and the
// congestion control from the container's
// socket from to the host socket to.
func copyOptions(from, to, family int) {
	for _, o := range sockOptions {
		if o.family != 0 && o.family != family {
			continue
		}
		want, err := unix.GetsockoptInt(from, o.level, o.opt)
		if err != nil {
			continue
		}
		if have, err := unix.GetsockoptInt(to, o.level, o.opt); err != nil || have == want {
			continue
		}
		if o.level == unix.SOL_SOCKET && (o.opt == unix.SO_SNDBUF || o.opt == unix.SO_RCVBUF) {
			want /= 2
		}
		_ = unix.SetsockoptInt(to, o.level, o.opt, want)
	}
	if l, err := unix.GetsockoptLinger(from, unix.SOL_SOCKET, unix.SO_LINGER); err == nil && l.Onoff != 0 {
		_ = unix.SetsockoptLinger(to, unix.SOL_SOCKET, unix.SO_LINGER, l)
	}
	// Timeouts of reads and writes, often set before connecting.
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if tv, err := unix.GetsockoptTimeval(from, unix.SOL_SOCKET, opt); err == nil && tv.Nano() != 0 {
			_ = unix.SetsockoptTimeval(to, unix.SOL_SOCKET, opt, tv)
		}
	}
	// A congestion control the host does not let the user pick stays the
	// host's default.
	if cc, err := unix.GetsockoptString(from, unix.IPPROTO_TCP, unix.TCP_CONGESTION); err == nil {
		if have, err := unix.GetsockoptString(to, unix.IPPROTO_TCP, unix.TCP_CONGESTION); err == nil && have != cc {
			_ = unix.SetsockoptString(to, unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
		}
	}
}
