package netstack

// The accept bypass (Config.AcceptBypass, on by default).
// A published TCP connection carried by the kernels (inbound_linux.go)
// crosses two TCP connections: the client's to the host socket H the
// monitor accepted, and the monitor's socket T in the container's
// namespace to the server's S. With the accept bypass the container's
// accept(2) and accept4(2) come to the connect listener too, and the
// server is given H itself, so that client and server talk over one
// connection, as on the host.
//
// dialIn still connects T, so that the server's listening socket becomes
// readable as for any client (an epoll server waits for that), and
// records a handoff under T's local address, which is the client's. A
// trapped accept accepts on the container's listening socket itself; when
// the connection it gets, S, is T's, it installs H in the caller instead
// (SECCOMP_ADDFD_FLAG_SEND: the descriptor is installed and the accept
// answered with its number, or neither) and aborts S and T. Any other
// connection (another client in the container, a client of the host's
// loopback, which must keep appearing as the gateway) is installed as it
// came. A handoff no accept takes within acceptWait (a server started
// by `lodger exec`, which is not under the filter, or a slow one) is
// spliced as without the bypass, and its S goes to the server as it is.
//
// Nothing accepted here may be lost. Where the caller is gone after S was
// accepted (a signal interrupted its accept, which then restarts), S (and
// a claimed H) is parked on the listener for its next trapped accept.
// Where the caller cannot take the descriptor (its fd table is full, its
// address buffer is bad), or no accept takes a parked one within
// parkWait, S is put back in the listener's queue by a new connection to
// it from S's peer's address (on another port), spliced to S; a claimed H
// goes back to dialIn, which splices it to T as without the bypass.

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// acceptWait is how long a published connection waits for the server's
// accept to take its host socket before it is spliced instead. A server
// in an accept or epoll_wait takes it within a fraction of a
// millisecond; a busy one later, through the splice.
const acceptWait = 20 * time.Millisecond

// acceptCheck is how often a trapped blocking accept with nothing
// happening checks that its caller still waits and that the stack runs.
// It is woken at once when a connection comes, when its thread exits (a
// pidfd) and when the caller's accept comes again as a new notification
// (a signal interrupted it, and it restarted): the check only bounds how
// long a wait outlives a caller that stopped accepting.
const acceptCheck = 2 * time.Second

// handoffs are the published connections whose host socket may still go
// to the server, by the address the server sees them from, and a lock
// for each listening socket that blocking accepts wait on.
type handoffs struct {
	mu        sync.Mutex
	byPeer    map[netip.AddrPort]*handoff
	listeners map[uint64]*listenerLock // by the socket's inode
	// trapped says of the container's ports whether their last word
	// was a trapped accept (true) or a client that waited for one in
	// vain (false: a server started by `lodger exec`, outside the
	// filter, or one too busy to accept). Clients of a port with no
	// word yet wait too, so that an epoll server's first client, which
	// comes before its first accept, is handed over as well; a false
	// port's clients are spliced at once until a trapped accept is seen
	// on it again.
	trapped map[uint16]bool
	// infos are the listening sockets seen, by inode.
	infos map[uint64]*listenerInfo
}

// sawAccept records that a trapped accept came for a listener on port
// (seen), or that a client of port waited for one in vain (!seen).
func (hs *handoffs) sawAccept(port uint16, seen bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.trapped == nil {
		hs.trapped = map[uint16]bool{}
	}
	hs.trapped[port] = seen
}

// mayAccept says whether a client of port should wait for a trapped
// accept: unless the last one to wait did so in vain.
func (hs *handoffs) mayAccept(port uint16) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	seen, known := hs.trapped[port]
	return seen || !known
}

// listenerLock lets one trapped accept at a time wait on a listening
// socket.
type listenerLock struct {
	c      chan struct{} // holds one token while a trapped accept waits
	users  int
	holder uint64 // the notification holding the token (under handoffs.mu)
	kick   int    // an eventfd that wakes the holder to check it still stands
	// parked are connections accepted for callers that were gone when
	// they were to be given (under handoffs.mu).
	parked []*parkedConn
}

// parkedConn is a connection the monitor accepted on a listener for a
// trapped accept whose caller was gone by the time it could be given: a
// signal interrupted the accept, which then restarts as a new
// notification. The next trapped accept on the listener takes it, so
// that the server sees it as it came; one no accept takes within
// parkWait is put back in the listener's queue (requeue).
type parkedConn struct {
	s           int
	ho          *handoff // claimed, H not given yet; nil for any other connection
	peer, local netip.AddrPort
	timer       *time.Timer
}

// parkWait is how long a parked connection waits for the listener's
// next accept.
const parkWait = time.Second

// park keeps p for the next trapped accept on the listener ino.
func (t *connectTrap) park(ino uint64, p *parkedConn) {
	hs := &t.st.handoffs
	l := hs.lockListener(ino) // released when p is taken or put back
	hs.mu.Lock()
	defer hs.mu.Unlock()
	l.parked = append(l.parked, p)
	p.timer = time.AfterFunc(parkWait, func() {
		if hs.unparkThis(ino, p) {
			t.putBack(p)
		}
	})
	if l.holder != 0 {
		kick(l) // a trapped accept waits on the listener already
	}
}

// kick wakes the trapped accept that holds l's token.
func kick(l *listenerLock) {
	if l.kick >= 0 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(l.kick, one[:])
	}
}

// unpark takes the oldest connection parked on the listener ino, if any.
func (hs *handoffs) unpark(ino uint64) *parkedConn {
	hs.mu.Lock()
	l := hs.listeners[ino]
	if l == nil || len(l.parked) == 0 {
		hs.mu.Unlock()
		return nil
	}
	p := l.parked[0]
	l.parked = l.parked[1:]
	hs.mu.Unlock()
	p.timer.Stop() // should it be firing, it finds p gone
	hs.unlockListener(ino)
	return p
}

// unparkThis takes p off the listener ino, unless it was taken already.
func (hs *handoffs) unparkThis(ino uint64, p *parkedConn) bool {
	hs.mu.Lock()
	l := hs.listeners[ino]
	i := -1
	if l != nil {
		i = slices.Index(l.parked, p)
	}
	if i >= 0 {
		l.parked = slices.Delete(l.parked, i, i+1)
	}
	hs.mu.Unlock()
	if i < 0 {
		return false
	}
	hs.unlockListener(ino)
	return true
}

// putBack gives up on handing p to a caller: a claimed host socket goes
// back to dialIn, which splices it to T, and S goes back in its
// listener's queue.
func (t *connectTrap) putBack(p *parkedConn) {
	if p.ho != nil {
		p.ho.result <- false
	}
	t.requeue(p.s, p.peer, p.local)
}

type handoffState int

const (
	handoffWaiting handoffState = iota
	handoffClaimed              // an accept took it; result says how it ended
	handoffSpliced              // dialIn splices it
)

type handoff struct {
	h      *net.TCPConn
	client netip.AddrPort // H's peer, unmapped
	key    netip.AddrPort

	mu      sync.Mutex
	state   handoffState
	claimed chan struct{} // closed on claim
	result  chan bool     // after a claim: true when H went to the server
}

func (hs *handoffs) add(key netip.AddrPort, ho *handoff) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.byPeer == nil {
		hs.byPeer = map[netip.AddrPort]*handoff{}
	}
	ho.key = key
	hs.byPeer[key] = ho
}

func (hs *handoffs) remove(ho *handoff) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.byPeer[ho.key] == ho {
		delete(hs.byPeer, ho.key)
	}
}

// claim takes the waiting handoff of the connection from peer, if any.
func (hs *handoffs) claim(peer netip.AddrPort) *handoff {
	hs.mu.Lock()
	ho := hs.byPeer[peer]
	hs.mu.Unlock()
	if ho == nil {
		return nil
	}
	ho.mu.Lock()
	defer ho.mu.Unlock()
	if ho.state != handoffWaiting {
		return nil
	}
	ho.state = handoffClaimed
	close(ho.claimed)
	return ho
}

// settle waits up to wait for an accept to claim ho. It reports whether
// H went to the server; false: dialIn owns H and splices it.
func (ho *handoff) settle(wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ho.claimed:
	case <-timer.C:
		ho.mu.Lock()
		if ho.state == handoffWaiting {
			ho.state = handoffSpliced
			ho.mu.Unlock()
			return false
		}
		ho.mu.Unlock()
	}
	return <-ho.result
}

// missed says whether no accept claimed ho before its wait ended.
func (ho *handoff) missed() bool {
	ho.mu.Lock()
	defer ho.mu.Unlock()
	return ho.state == handoffSpliced
}

// lockListener returns the lock of the listening socket ino; unlock with
// unlockListener.
func (hs *handoffs) lockListener(ino uint64) *listenerLock {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.listeners == nil {
		hs.listeners = map[uint64]*listenerLock{}
	}
	l := hs.listeners[ino]
	if l == nil {
		kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			kick = -1 // the holder then sees a new caller only at its check
		}
		l = &listenerLock{c: make(chan struct{}, 1), kick: kick}
		hs.listeners[ino] = l
	}
	l.users++
	return l
}

func (hs *handoffs) unlockListener(ino uint64) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if l := hs.listeners[ino]; l != nil {
		if l.users--; l.users == 0 {
			delete(hs.listeners, ino)
			if l.kick >= 0 {
				unix.Close(l.kick)
			}
		}
	}
}

// setHolder records the notification that holds l's token (0: none).
func (hs *handoffs) setHolder(l *listenerLock, id uint64) {
	hs.mu.Lock()
	l.holder = id
	hs.mu.Unlock()
}

// kickStale wakes l's holder when its notification no longer stands: its
// caller was interrupted, and what comes now may be its restarted accept,
// which must not wait for the old one's next check.
func (t *connectTrap) kickStale(l *listenerLock) {
	hs := &t.st.handoffs
	hs.mu.Lock()
	id := l.holder
	hs.mu.Unlock()
	if id != 0 && !t.valid(id) {
		kick(l)
	}
}

// listenerInfo is what the trapped accepts learn of a listening socket
// the first time they see it, kept by its inode: whether its accepts are
// taken here, and the options its accepted sockets inherit. The socket's
// kind and protocol never change; its TCP_DEFER_ACCEPT and the options
// it passes on are read once, so that a handover costs few system calls:
// a server that changes them on a listener it already accepted on keeps
// what was read first.
type listenerInfo struct {
	// bypass: a listening TCP (or MPTCP, Go's default since 1.24, which
	// accepts plain TCP clients too) socket of IPv4 or IPv6.
	bypass      bool
	family      int
	port        uint16
	deferAccept bool // TCP_DEFER_ACCEPT: see accept

	mu       sync.Mutex
	optsRead bool
	opts     inherited // what a handed-over host socket is given
}

// maxListenerInfos bounds the listeners remembered: past it, what was
// learnt is forgotten (sockets closed long ago among it) and learnt again.
const maxListenerInfos = 256

// listener returns what is known of the listening socket ino, whose
// duplicate is dup, reading it the first time.
func (hs *handoffs) listener(ino uint64, dup int) *listenerInfo {
	hs.mu.Lock()
	li := hs.infos[ino]
	hs.mu.Unlock()
	if li != nil {
		return li
	}
	li = readListener(dup)
	if li == nil {
		return &listenerInfo{} // not listening yet: asked again next time
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.infos == nil || len(hs.infos) >= maxListenerInfos {
		hs.infos = map[uint64]*listenerInfo{}
	}
	hs.infos[ino] = li
	return li
}

// readListener reads what listenerInfo keeps off the socket dup; nil when
// it does not listen (yet).
func readListener(dup int) *listenerInfo {
	li := &listenerInfo{}
	var err error
	li.family, err = unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || (li.family != unix.AF_INET && li.family != unix.AF_INET6) {
		return li
	}
	if v, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || v != unix.SOCK_STREAM {
		return li
	}
	if v, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || (v != unix.IPPROTO_TCP && v != unix.IPPROTO_MPTCP) {
		return li
	}
	if v, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return nil
	}
	sa, err := unix.Getsockname(dup)
	if err != nil {
		return nil
	}
	li.port = addrPort(sa).Port()
	// A listener with TCP_DEFER_ACCEPT has a connection to accept only
	// once its client sent data, which a handed-over client sends to the
	// host's socket: its clients are spliced, and its accepts left to
	// the kernel.
	v, err := unix.GetsockoptInt(dup, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
	li.deferAccept = err != nil || v > 0
	li.bypass = true
	return li
}

// inheritedOptions returns the options to give a host socket h handed
// over in place of s, an accepted socket of the listener: those where
// they differ, read from the first pair and kept.
func (li *listenerInfo) inheritedOptions(s, h int) inherited {
	li.mu.Lock()
	defer li.mu.Unlock()
	if !li.optsRead {
		li.opts = inheritedDiff(s, h, li.family)
		li.optsRead = true
	}
	return li.opts
}

// acceptCall is a trapped accept's arguments.
type acceptCall struct {
	pid             int
	listenFD        int
	addr, addrLen   uintptr
	nonblock, close bool // SOCK_NONBLOCK, SOCK_CLOEXEC
}

func (t *connectTrap) handleAccept(n *seccompNotif) {
	c := acceptCall{pid: int(n.Pid), listenFD: int(int32(n.Args[0])), addr: uintptr(n.Args[1]), addrLen: uintptr(n.Args[2])}
	if n.Nr == unix.SYS_ACCEPT4 {
		flags := int(int32(n.Args[3]))
		if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
			t.answer(n.ID, 0, true) // the kernel's EINVAL
			return
		}
		c.nonblock, c.close = flags&unix.SOCK_NONBLOCK != 0, flags&unix.SOCK_CLOEXEC != 0
	}
	errno, err := t.accept(n, c)
	switch {
	case errors.Is(err, errGone), err == nil && errno == 0: // answered, or nobody waits
	case err != nil:
		t.answer(n.ID, 0, true)
	default:
		t.answer(n.ID, errno, false)
	}
}

// accept serves the trapped accept n. It returns nil once the caller got
// a descriptor (and its answer), an errno to answer, errNotBypassed to
// let the kernel's accept run, or errGone.
func (t *connectTrap) accept(n *seccompNotif, c acceptCall) (syscall.Errno, error) {
	// Without kernel-carried connections (no policy routing) there is
	// nothing to hand over, and nowhere to put a connection back.
	if c.listenFD < 0 || t.st.netns == nil {
		return 0, errNotBypassed
	}
	pidfd, err := openPidfd(c.pid)
	if err != nil {
		return 0, errNotBypassed
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, c.listenFD, 0)
	if err != nil {
		return 0, errNotBypassed
	}
	defer unix.Close(dup)
	if !t.valid(n.ID) {
		return 0, errGone // the pid may have been another process's
	}
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		return 0, errNotBypassed
	}
	li := t.st.handoffs.listener(st.Ino, dup)
	if !li.bypass {
		return 0, errNotBypassed
	}
	if li.deferAccept {
		t.st.handoffs.sawAccept(li.port, false)
		return 0, errNotBypassed
	}
	t.st.handoffs.sawAccept(li.port, true)
	fl, err := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	if err != nil {
		return 0, errNotBypassed
	}
	// What an interrupted accept on this listener left comes first.
	if p := t.st.handoffs.unpark(st.Ino); p != nil {
		return t.give(n, c, li, st.Ino, p)
	}
	s, p, errno, err := t.acceptOn(n, dup, pidfd, st.Ino, fl&unix.O_NONBLOCK != 0)
	switch {
	case err != nil || errno != 0:
		return errno, err
	case p != nil:
		return t.give(n, c, li, st.Ino, p)
	}
	return t.deliver(n, c, li, st.Ino, s)
}

// acceptOn accepts a connection on the container's listening socket dup,
// as the caller's accept would: at once for a non-blocking one, else
// waiting (one trapped accept at a time per socket, so that a woken one
// never blocks in the kernel behind another) until a connection comes,
// the socket's SO_RCVTIMEO passes (EAGAIN), or the caller is gone (pidfd
// is its thread's). A connection parked on the listener (ino) meanwhile
// is returned as p.
func (t *connectTrap) acceptOn(n *seccompNotif, dup, pidfd int, ino uint64, nonblock bool) (s int, p *parkedConn, errno syscall.Errno, err error) {
	take := func() (int, *parkedConn, syscall.Errno, error) {
		for {
			s, _, err := unix.Accept4(dup, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch {
			case err == nil:
				return s, nil, 0, nil
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return -1, nil, unix.EAGAIN, nil
			}
			// This process's fd limit, a connection aborted in the
			// queue: the kernel's accept in the caller decides.
			return -1, nil, 0, errNotBypassed
		}
	}
	if nonblock {
		return take()
	}
	var deadline time.Time
	if tv, err := unix.GetsockoptTimeval(dup, unix.SOL_SOCKET, unix.SO_RCVTIMEO); err == nil && tv.Nano() > 0 {
		deadline = time.Now().Add(time.Duration(tv.Nano()))
	}
	hs := &t.st.handoffs
	l := hs.lockListener(ino)
	defer hs.unlockListener(ino)
	for locked := false; !locked; {
		select {
		case l.c <- struct{}{}:
			locked = true
			continue
		default:
		}
		t.kickStale(l)
		timer := time.NewTimer(acceptCheck)
		select {
		case l.c <- struct{}{}:
			locked = true
		case <-timer.C:
			if !t.valid(n.ID) {
				return -1, nil, 0, errGone
			}
			if t.st.ctx.Err() != nil {
				return -1, nil, 0, errNotBypassed
			}
		}
		timer.Stop()
	}
	hs.setHolder(l, n.ID)
	defer func() {
		hs.setHolder(l, 0)
		<-l.c
	}()
	var drain [8]byte
	if l.kick >= 0 {
		_, _ = unix.Read(l.kick, drain[:]) // a kick meant for an earlier holder
	}
	for {
		// A connection parked while this accept waited for the token
		// or polled (which a kick then ended).
		if p := hs.unpark(ino); p != nil {
			return -1, p, 0, nil
		}
		if t.st.ctx.Err() != nil {
			return -1, nil, 0, errNotBypassed
		}
		wait := acceptCheck
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return -1, nil, unix.EAGAIN, nil
			}
			wait = min(wait, left+time.Millisecond)
		}
		pfd := []unix.PollFd{
			{Fd: int32(dup), Events: unix.POLLIN},
			{Fd: int32(pidfd), Events: unix.POLLIN},
			{Fd: int32(l.kick), Events: unix.POLLIN}, // -1 is ignored
		}
		k, err := unix.Poll(pfd, int(wait/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return -1, nil, 0, errNotBypassed
		}
		if pfd[2].Revents != 0 {
			_, _ = unix.Read(l.kick, drain[:])
		}
		if k > 0 && pfd[0].Revents != 0 {
			// A blocking description: should a process outside the
			// filter (lodger exec) have taken the connection since
			// poll, this waits in the kernel for the next one.
			s, p, errno, err := take()
			if errno != unix.EAGAIN {
				return s, p, errno, err
			}
		}
		if !t.valid(n.ID) {
			return -1, nil, 0, errGone
		}
	}
}

// deliver gives the caller of n the connection S it accepted on the
// listener ino, or the host socket in its place when S is a published
// connection's, and answers the accept.
func (t *connectTrap) deliver(n *seccompNotif, c acceptCall, li *listenerInfo, ino uint64, s int) (syscall.Errno, error) {
	peer, local, err := endpoints(s)
	if err != nil {
		unix.Close(s)
		return 0, errNotBypassed // not connected any more: the kernel's turn
	}
	return t.give(n, c, li, ino, &parkedConn{s: s, ho: t.st.handoffs.claim(peer), peer: peer, local: local})
}

// give is deliver of a connection already accepted, and its handoff
// claimed. Where the caller is gone, the connection is parked for the
// listener's next accept; where it cannot take it (EMFILE, a bad address
// buffer), S is put back in the listener's queue; the returned error or
// errno says what the caller gets.
func (t *connectTrap) give(n *seccompNotif, c acceptCall, li *listenerInfo, ino uint64, p *parkedConn) (syscall.Errno, error) {
	s, ho, family := p.s, p.ho, li.family
	give, from := s, p.peer
	var hrc syscall.RawConn
	var err error
	if ho != nil {
		if hrc, err = ho.h.SyscallConn(); err == nil {
			err = hrc.Control(func(fd uintptr) { give = int(fd) })
		}
		if err != nil {
			ho.result <- false
			ho, p.ho = nil, nil
			give = s
		} else {
			from = ho.client
			li.inheritedOptions(s, give).apply(give)
		}
	}
	fail := func(errno syscall.Errno, err error) (syscall.Errno, error) {
		if ho != nil {
			_ = unix.SetNonblock(give, true)
		}
		if !t.valid(n.ID) {
			t.park(ino, p)
			return 0, errGone
		}
		t.putBack(p)
		if errors.Is(err, errGone) {
			// Still waiting (a kernel without SECCOMP_ADDFD_FLAG_SEND,
			// say): its own accept takes what was put back.
			err = errNotBypassed
		}
		return errno, err
	}
	if !t.valid(n.ID) {
		return fail(0, errGone)
	}
	if c.addr != 0 {
		if errno := writeSockaddr(c.pid, c.addr, c.addrLen, family, from); errno != 0 {
			return fail(errno, nil)
		}
	}
	if err := unix.SetNonblock(give, c.nonblock); err != nil {
		return fail(0, errNotBypassed)
	}
	add := seccompNotifAddfd{ID: n.ID, Flags: unix.SECCOMP_ADDFD_FLAG_SEND, Srcfd: uint32(give)}
	if c.close {
		add.NewfdFlags = unix.O_CLOEXEC
	}
	// With SECCOMP_ADDFD_FLAG_SEND the descriptor is installed and the
	// accept answered with its number in one step, or neither happens.
	if err := t.control(unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&add)); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == unix.EMFILE || errno == unix.ENFILE) {
			return fail(errno, nil)
		}
		return fail(0, errGone)
	}
	if ho != nil {
		// S and T are no one's now: abort them (a reset, no TIME-WAIT
		// holding the client's port in the namespace); dialIn closes T.
		_ = unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		ho.result <- true
		ho.h.Close()
	}
	unix.Close(s)
	return 0, nil
}

// endpoints are a connected socket's peer and local addresses, unmapped.
func endpoints(s int) (peer, local netip.AddrPort, err error) {
	psa, err := unix.Getpeername(s)
	if err != nil {
		return peer, local, err
	}
	lsa, err := unix.Getsockname(s)
	if err != nil {
		return peer, local, err
	}
	return addrPort(psa), addrPort(lsa), nil
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// requeue puts the accepted connection s back in its listener's queue:
// a new connection from peer's address (another port) to local, spliced
// to s, so that the server's next accept gets it.
func (t *connectTrap) requeue(s int, peer, local netip.AddrPort) {
	f := os.NewFile(uintptr(s), "requeued")
	if t.st.netns == nil || !t.st.enter() {
		f.Close()
		return
	}
	go func() {
		defer t.st.wg.Done()
		in, err := t.st.dialKernel(netip.AddrPortFrom(peer.Addr(), 0), local, nil)
		if err != nil {
			t.st.logf("network: put back a connection from %s: %v", peer, err)
			f.Close()
			return
		}
		t.st.spliceKernel(in, f)
	}()
}

// writeSockaddr writes a as the caller's accept would, into its buffer
// addr of the length at addrLen (truncated to it, the full length
// written back), in family's form (an IPv4 client of an IPv6 listener
// as a v4-mapped address).
func writeSockaddr(pid int, addr, addrLen uintptr, family int, a netip.AddrPort) syscall.Errno {
	var lb [4]byte
	local := []unix.Iovec{{Base: &lb[0], Len: 4}}
	remote := []unix.RemoteIovec{{Base: addrLen, Len: 4}}
	if k, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || k != 4 {
		return unix.EFAULT
	}
	have := int32(binary.NativeEndian.Uint32(lb[:]))
	if have < 0 {
		return unix.EINVAL
	}
	var raw []byte
	if family == unix.AF_INET {
		raw = make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(raw, unix.AF_INET)
		binary.BigEndian.PutUint16(raw[2:], a.Port())
		ip := a.Addr().As4()
		copy(raw[4:], ip[:])
	} else {
		raw = make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(raw, unix.AF_INET6)
		binary.BigEndian.PutUint16(raw[2:], a.Port())
		ip := a.Addr().As16() // As16 maps an IPv4 address
		copy(raw[8:], ip[:])
	}
	if n := min(int(have), len(raw)); n > 0 {
		local := []unix.Iovec{{Base: &raw[0], Len: uint64(n)}}
		remote := []unix.RemoteIovec{{Base: addr, Len: n}}
		if k, err := unix.ProcessVMWritev(pid, local, remote, 0); err != nil || k != n {
			return unix.EFAULT
		}
	}
	binary.NativeEndian.PutUint32(lb[:], uint32(len(raw)))
	local = []unix.Iovec{{Base: &lb[0], Len: 4}}
	if k, err := unix.ProcessVMWritev(pid, local, remote, 0); err != nil || k != 4 {
		return unix.EFAULT
	}
	return 0
}

// inherited are socket options to set on a handed-over host socket.
type inherited struct {
	opts   []struct{ level, opt, val int }
	linger *unix.Linger
}

// inheritedDiff finds the options the server's accepted socket s
// inherited from its listener where the host socket h differs: Go set
// TCP_NODELAY and keep-alive on h when the monitor accepted it, which the
// server did not ask for. Buffer sizes are left alone, so that h keeps
// the kernel's autotuning.
func inheritedDiff(s, h, family int) inherited {
	var in inherited
	for _, o := range sockOptions {
		if o.family != 0 && o.family != family {
			continue
		}
		if o.level == unix.SOL_SOCKET && (o.opt == unix.SO_SNDBUF || o.opt == unix.SO_RCVBUF || o.opt == unix.SO_REUSEADDR) {
			continue
		}
		if o.level == unix.IPPROTO_IPV6 && o.opt == unix.IPV6_V6ONLY {
			continue
		}
		want, err := unix.GetsockoptInt(s, o.level, o.opt)
		if err != nil {
			continue
		}
		if have, err := unix.GetsockoptInt(h, o.level, o.opt); err == nil && have != want {
			in.opts = append(in.opts, struct{ level, opt, val int }{o.level, o.opt, want})
		}
	}
	if l, err := unix.GetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER); err == nil && l.Onoff != 0 {
		in.linger = l
	}
	return in
}

// apply sets the options on the host socket h.
func (in inherited) apply(h int) {
	for _, o := range in.opts {
		_ = unix.SetsockoptInt(h, o.level, o.opt, o.val)
	}
	if in.linger != nil {
		_ = unix.SetsockoptLinger(h, unix.SOL_SOCKET, unix.SO_LINGER, in.linger)
	}
}
