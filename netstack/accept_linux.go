package netstack

// The accept bypass (Config.AcceptBypass, off unless asked for: the
// socket it hands over is the host's, see config.go).
// A published TCP connection carried by the kernels (inbound_linux.go)
// crosses two TCP connections: the client's to the host socket H the
// monitor accepted, and the monitor's socket T in the container's
// namespace to the server's S. With the accept bypass the container's
// accept(2) and accept4(2) come to the connect listener too, and the
// server is given H itself (SECCOMP_ADDFD_FLAG_SEND: the descriptor is
// installed and the accept answered with its number, or neither), so
// that client and server talk over one connection, as on the host.
//
// What a container can make its monitor spend is bounded, whatever it
// does (issue 12): a trapped accept costs no thread and no wait, and the
// monitor never makes a call that could block on a description the
// container shares. The container owns the open file description of its
// listening socket (pidfd_getfd's duplicate shares it), so its O_NONBLOCK
// can change between any check and any call: the monitor never calls
// accept4(2) on it. It accepts only with an io_uring accept that never
// waits, whatever the flag says (IORING_ACCEPT_DONTWAIT, uring_linux.go),
// and a trapped accept goes so:
//
//   - What is queued is taken so and given to the caller: H in place of
//     S when S is a published client's T's (an epoll server is woken by
//     T before it calls accept), or S as it came.
//   - With nothing queued, a non-blocking accept is answered EAGAIN, as
//     the kernel answered a moment before.
//   - A blocking one is held: the caller waits, as in the kernel, and
//     costs the monitor a small record; its listener is watched by one
//     epoll set per container that the runtime's poller waits on (one
//     descriptor per listener). A published client whose port, address
//     and family the listener matches is handed to its oldest held
//     accept directly, without T; when the listener becomes readable
//     otherwise, what is queued is taken for that accept as above.
//
// At most maxHeld accepts on maxWatched listeners are held, and
// maxServing trapped calls served at once (bypass_linux.go); past these
// bounds, and for a socket with SO_RCVTIMEO, the accept continues in the
// kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE), and its clients are spliced
// as without the bypass. Continuing an accept on the container's own
// listening socket, in its own namespace, decides nothing about
// security: the caller gets what the kernel would have given it. Without
// the io_uring (before Linux 6.10, or kernel.io_uring_disabled), every
// accept continues so, the held ones once their listener is readable: a
// blocking server's published clients are still handed over, an epoll
// server's are spliced.
//
// dialIn records a handoff under the container port and the address the
// server sees the client from (T's local address): two published ports
// may have clients of the same address and port. H is handed only to a
// listener of its own family (an AF_INET server given an AF_INET6 socket
// would see addresses it cannot parse); other clients are spliced. A
// handoff no accept takes within acceptWait (a server started by `lodger
// exec`, which is not under the filter, or a slow one) is spliced as
// without the bypass, and its S goes to the server as it is.
//
// Nothing accepted here may be lost that the kernel would keep. Where
// the caller is gone after the monitor accepted S for it (a signal
// interrupted its accept, which then restarts), S (and a claimed H) is
// parked on the listener for its next trapped accept, or given at once to
// one held there: at most maxParked per container, for parkWait. Where
// the caller cannot take it (its fd table is full), or none takes a
// parked one, S is put back in the listener's queue by a new connection
// to it from S's peer's address (on another port), spliced to S and
// counted against max_conns; a claimed H goes back to dialIn, which
// splices it to T as without the bypass. A bad address buffer loses the
// connection, as the kernel's accept does.
//
// The caller's address buffer is written through /proc/TID/mem opened
// before the notification is checked again, so that a thread id reused
// meanwhile never receives it (issue 12).

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
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

// acceptCheck is how often the held accepts are checked: one whose
// caller is gone (killed, or interrupted by a signal whose handler does
// not restart it) is dropped. A restarted accept comes as a new
// notification, which drops the stale ones on its listener at once.
const acceptCheck = 2 * time.Second

// maxHeld bounds the blocking accepts a container's monitor holds, and
// maxWatched the listening sockets it watches for them (a descriptor
// each). A server has a few listeners and, prefork ones, a few dozen
// threads in accept; the rest continue in the kernel.
const (
	maxHeld    = 64
	maxWatched = 16
)

// handoffKey names a published connection waiting for the server's
// accept: the container port it was published to, and the address the
// server sees it come from.
type handoffKey struct {
	port uint16
	peer netip.AddrPort
}

// handoffs are the published connections whose host socket may still go
// to the server, the container's held accepts, and what is known of its
// listening sockets.
type handoffs struct {
	mu    sync.Mutex
	byKey map[handoffKey]*handoff
	// trapped says of the container's ports whether their last word
	// was a trapped accept (seen, with its listener's family) or a
	// client that waited for one in vain (a server started by `lodger
	// exec`, outside the filter, or one too busy to accept). Clients of
	// a port with no word yet wait too, so that an epoll server's first
	// client, which comes before its first accept, is handed over as
	// well; a missed port's clients are spliced at once until a trapped
	// accept is seen on it again.
	trapped map[uint16]portWord
	// infos are the listening sockets seen, by inode.
	infos map[uint64]*listenerInfo

	// The held accepts, by the listener they wait on.
	watched map[uint32]*watchedListener // by epoll key
	byIno   map[uint64]*watchedListener
	held    int
	nextKey uint32
	parked  map[uint64][]*accepted // by listener inode (giveAccepted)
	nparked int
	ep      *os.File // the epoll set, in the runtime's poller; nil until needed
	epFD    int      // ep's descriptor
	epErr   error    // why there is none
}

type portWord struct {
	seen   bool
	family int // of the listener of the last trapped accept
}

// sawAccept records that a trapped accept came for a listener of family
// on port (seen), or that a client of port waited for one in vain
// (!seen).
func (hs *handoffs) sawAccept(port uint16, seen bool, family int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.trapped == nil {
		hs.trapped = map[uint16]portWord{}
	}
	hs.trapped[port] = portWord{seen, family}
}

// mayAccept says whether a client of port, whose host socket is of
// family, should wait for a trapped accept: unless the last one to wait
// did so in vain, or the port's listener is of another family.
func (hs *handoffs) mayAccept(port uint16, family int) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	w, known := hs.trapped[port]
	return !known || w.seen && (w.family == 0 || w.family == family)
}

type handoffState int

const (
	handoffWaiting handoffState = iota
	handoffClaimed              // an accept took it; result says how it ended
	handoffSpliced              // dialIn splices it
)

type handoff struct {
	h      *net.TCPConn
	family int            // H's
	client netip.AddrPort // H's peer, unmapped
	key    handoffKey

	mu      sync.Mutex
	state   handoffState
	claimed chan struct{} // closed on claim
	result  chan bool     // after a claim: true when H went to the server
}

func newHandoff(h *net.TCPConn, family int, client netip.AddrPort) *handoff {
	return &handoff{h: h, family: family, client: client, claimed: make(chan struct{}), result: make(chan bool, 1)}
}

func (hs *handoffs) add(key handoffKey, ho *handoff) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.byKey == nil {
		hs.byKey = map[handoffKey]*handoff{}
	}
	ho.key = key
	hs.byKey[key] = ho
}

func (hs *handoffs) remove(ho *handoff) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.byKey[ho.key] == ho {
		delete(hs.byKey, ho.key)
	}
}

// claim takes the waiting handoff of key, if any.
func (hs *handoffs) claim(key handoffKey) *handoff {
	hs.mu.Lock()
	ho := hs.byKey[key]
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

// listenerInfo is what the trapped accepts learn of a listening socket
// the first time they see it, kept by its inode: whether its accepts are
// taken here, what it accepts, and the options its accepted sockets
// inherit. The socket's kind, protocol, address and IPV6_V6ONLY never
// change once it listens; its TCP_DEFER_ACCEPT and the options it passes
// on are read once, so that a handover costs few system calls: a server
// that changes them on a listener it already accepted on keeps what was
// read first.
type listenerInfo struct {
	// bypass: a listening TCP (or MPTCP, Go's default since 1.24, which
	// accepts plain TCP clients too) socket of IPv4 or IPv6.
	bypass      bool
	family      int
	addr        netip.Addr // bound to, as the socket has it (v4-mapped too)
	port        uint16
	v6only      bool
	deferAccept bool // TCP_DEFER_ACCEPT: see accept

	mu       sync.Mutex
	values   []int // of sockOptions, as the listener has them; nil: unread
	linger   *unix.Linger
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
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		li.addr, li.port = netip.AddrFrom4(a.Addr), uint16(a.Port)
	case *unix.SockaddrInet6:
		li.addr, li.port = netip.AddrFrom16(a.Addr), uint16(a.Port)
		v, err := unix.GetsockoptInt(dup, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		li.v6only = err != nil || v != 0
	default:
		return nil
	}
	// A listener with TCP_DEFER_ACCEPT has a connection to accept only
	// once its client sent data, which a handed-over client sends to the
	// host's socket: its clients are spliced, and its accepts left to
	// the kernel.
	v, err := unix.GetsockoptInt(dup, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
	li.deferAccept = err != nil || v > 0
	li.bypass = true
	return li
}

// accepts says whether the kernel could give the listener a connection
// to the container's address to with a socket of family, in its own
// family: H is handed over only where S would have come to this listener
// and looks as S would have.
func (li *listenerInfo) accepts(to netip.AddrPort, family int) bool {
	if !li.bypass || li.deferAccept || li.port != to.Port() || li.family != family {
		return false
	}
	dst := to.Addr().Unmap()
	switch {
	case li.family == unix.AF_INET:
		return dst.Is4() && (li.addr.IsUnspecified() || li.addr == dst)
	case dst.Is4():
		// An IPv4 client of an IPv6 socket: a dual-stack one, bound to
		// :: or to the v4-mapped address.
		return !li.v6only && (li.addr.IsUnspecified() || li.addr == netip.AddrFrom16(dst.As16()))
	}
	return li.addr.IsUnspecified() || li.addr == dst
}

// readValues reads, once, the options of the listening socket dup that
// its accepted sockets inherit.
func (li *listenerInfo) readValues(dup int) {
	li.mu.Lock()
	defer li.mu.Unlock()
	if li.values != nil {
		return
	}
	li.values = make([]int, len(sockOptions))
	for i, o := range sockOptions {
		v, err := unix.GetsockoptInt(dup, o.level, o.opt)
		if err != nil {
			v = -1
		}
		li.values[i] = v
	}
	if l, err := unix.GetsockoptLinger(dup, unix.SOL_SOCKET, unix.SO_LINGER); err == nil && l.Onoff != 0 {
		li.linger = l
	}
}

// inheritedOptions returns the options to give a host socket h handed
// over in place of a connection accepted on the listener: those where
// they differ, compared with the first h and kept.
func (li *listenerInfo) inheritedOptions(h int) inherited {
	li.mu.Lock()
	defer li.mu.Unlock()
	if !li.optsRead && li.values != nil {
		li.opts = inheritedDiff(li.values, li.linger, h, li.family)
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
	t.finish(n.ID, errno, err)
}

// errHeld: the accept waits for a connection (hold).
var errHeld = errors.New("accept held")

// accept serves the trapped accept n. It returns nil once the caller got
// a descriptor (and its answer), an errno to answer, errNotBypassed to
// let the kernel's accept run, errHeld, or errGone.
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
	dup, err := unix.PidfdGetfd(pidfd, c.listenFD, 0)
	unix.Close(pidfd)
	if err != nil {
		return 0, errNotBypassed
	}
	owned := true // dup, until hold takes it
	defer func() {
		if owned {
			unix.Close(dup)
		}
	}()
	if !t.valid(n.ID) {
		return 0, errGone // the pid may have been another process's
	}
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		return 0, errNotBypassed
	}
	hs := &t.st.handoffs
	li := hs.listener(st.Ino, dup)
	if !li.bypass {
		return 0, errNotBypassed
	}
	if li.deferAccept {
		hs.sawAccept(li.port, false, 0)
		return 0, errNotBypassed
	}
	hs.sawAccept(li.port, true, li.family)
	li.readValues(dup)
	// What an interrupted accept on this listener left comes first.
	if p := hs.unpark(st.Ino); p != nil {
		return t.giveAccepted(n.ID, c, li, st.Ino, p)
	}
	// Take what is queued, never waiting, whatever the description's
	// O_NONBLOCK says now: a published client's T that comes while the
	// accept is served must find the monitor accepting, not a continued
	// accept that would take its S (the client would wait out
	// acceptWait, then be spliced).
	s, err := acceptNoWait(dup)
	if err == nil {
		return t.give(n.ID, c, li, st.Ino, s)
	}
	empty := err == unix.EAGAIN
	// The flag as it is now: a container that changes it meanwhile gets
	// a blocking accept held, or a non-blocking one answered, as it
	// asked for a moment ago. Neither makes the monitor wait.
	fl, err := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	switch {
	case err == nil && fl&unix.O_NONBLOCK != 0 && empty:
		return unix.EAGAIN, nil // what the kernel answered a moment ago
	case err != nil || fl&unix.O_NONBLOCK != 0:
		return 0, errNotBypassed
	}
	// SO_RCVTIMEO bounds a blocking accept: the kernel keeps the time.
	if tv, err := unix.GetsockoptTimeval(dup, unix.SOL_SOCKET, unix.SO_RCVTIMEO); err != nil || tv.Nano() > 0 {
		return 0, errNotBypassed
	}
	owned = false
	switch hs.hold(t, n.ID, c, st.Ino, li, dup) {
	case held:
		return 0, errHeld
	case parkedFirst:
		if p := hs.unpark(st.Ino); p != nil {
			return t.giveAccepted(n.ID, c, li, st.Ino, p)
		}
	}
	return 0, errNotBypassed
}

// holdResult is what hold did.
type holdResult int

const (
	notHeld     holdResult = iota // the accept is to continue in the kernel
	held                          // it waits
	parkedFirst                   // a connection was parked meanwhile: it takes that
)

// watchedListener is a listening socket with held accepts: a duplicate of
// it in the container's epoll set, and the accepts, oldest first.
type watchedListener struct {
	key  uint32 // in the epoll set
	ino  uint64
	dup  int
	li   *listenerInfo
	held []heldAccept
}

// heldAccept is a blocking accept the monitor holds.
type heldAccept struct {
	t    *connectTrap
	id   uint64
	call acceptCall
}

// hold keeps the blocking accept id on the listener ino (whose duplicate
// dup it owns from here on) until a published client or a connection
// comes for it. It does not where the bounds are reached or there is no
// epoll set (the accept is to continue in the kernel at once), nor where
// a connection was parked on the listener since the accept looked.
func (hs *handoffs) hold(t *connectTrap, id uint64, c acceptCall, ino uint64, li *listenerInfo, dup int) holdResult {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.parked[ino]) > 0 {
		unix.Close(dup)
		return parkedFirst
	}
	w := hs.byIno[ino]
	if w != nil {
		// A restarted accept comes as a new notification: drop the
		// stale one first, so that a client is not offered to it.
		hs.dropGoneLocked(w)
		w = hs.byIno[ino] // nil when none was left
	}
	if w != nil {
		unix.Close(dup)
		dup = -1
	}
	if hs.held >= maxHeld {
		if dup >= 0 {
			unix.Close(dup)
		}
		return notHeld
	}
	if w == nil {
		if len(hs.byIno) >= maxWatched || !hs.startWatching(t.st) {
			unix.Close(dup)
			return notHeld
		}
		hs.nextKey++
		w = &watchedListener{key: hs.nextKey, ino: ino, dup: dup, li: li}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(w.key)}
		if err := unix.EpollCtl(hs.epFD, unix.EPOLL_CTL_ADD, dup, &ev); err != nil {
			unix.Close(dup)
			return notHeld
		}
		if hs.byIno == nil {
			hs.byIno, hs.watched = map[uint64]*watchedListener{}, map[uint32]*watchedListener{}
		}
		hs.byIno[ino], hs.watched[w.key] = w, w
	}
	w.held = append(w.held, heldAccept{t, id, c})
	hs.held++
	// Armed again: a connection queued already is reported at once.
	hs.armLocked(w)
	return held
}

func (hs *handoffs) armLocked(w *watchedListener) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(w.key)}
	_ = unix.EpollCtl(hs.epFD, unix.EPOLL_CTL_MOD, w.dup, &ev)
}

// unwatchLocked forgets a listener with no held accept left.
func (hs *handoffs) unwatchLocked(w *watchedListener) {
	_ = unix.EpollCtl(hs.epFD, unix.EPOLL_CTL_DEL, w.dup, nil)
	unix.Close(w.dup)
	delete(hs.byIno, w.ino)
	delete(hs.watched, w.key)
}

// dropGoneLocked drops w's held accepts whose callers are gone, and w
// when none is left.
func (hs *handoffs) dropGoneLocked(w *watchedListener) {
	kept := w.held[:0]
	for _, a := range w.held {
		if a.t.valid(a.id) {
			kept = append(kept, a)
		}
	}
	clear(w.held[len(kept):])
	hs.held -= len(w.held) - len(kept)
	w.held = kept
	if len(kept) == 0 {
		hs.unwatchLocked(w)
	}
}

// startWatching makes the container's epoll set and starts the goroutine
// that waits on it in the runtime's poller, once; false when it cannot.
func (hs *handoffs) startWatching(st *Stack) bool {
	if hs.ep != nil {
		return true
	}
	if hs.epErr != nil {
		return false
	}
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err == nil {
		if err = unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		hs.epErr = err
		return false
	}
	ep := os.NewFile(uintptr(fd), "accept-epoll")
	// Only a descriptor in the runtime's poller takes deadlines: one
	// that is not would need a thread to wait on.
	if err := ep.SetReadDeadline(time.Time{}); err != nil || !st.enter() {
		ep.Close()
		hs.epErr = errors.New("epoll set outside the runtime's poller")
		return false
	}
	hs.ep, hs.epFD = ep, fd
	stop := context.AfterFunc(st.ctx, func() { _ = ep.SetReadDeadline(time.Unix(1, 0)) })
	go func() {
		defer st.wg.Done()
		defer stop()
		hs.watch(st, ep)
	}()
	return true
}

// watch waits for the watched listeners to have a connection, and checks
// the held accepts every acceptCheck, until the stack closes; then every
// held accept continues in the kernel.
func (hs *handoffs) watch(st *Stack, ep *os.File) {
	rc, err := ep.SyscallConn()
	events := make([]unix.EpollEvent, 16)
	for err == nil && st.ctx.Err() == nil {
		_ = ep.SetReadDeadline(time.Now().Add(acceptCheck))
		if st.ctx.Err() != nil {
			break // closed before the deadline above replaced its own
		}
		k := 0
		err = rc.Read(func(fd uintptr) bool {
			for {
				var werr error
				k, werr = unix.EpollWait(int(fd), events, 0)
				if werr != unix.EINTR {
					return k > 0
				}
			}
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil
			hs.checkHeld()
			continue
		}
		for _, ev := range events[:max(k, 0)] {
			hs.ready(uint32(ev.Fd))
		}
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, w := range hs.watched {
		for _, a := range w.held {
			a.t.answer(a.id, 0, true)
		}
		w.held = nil
		hs.unwatchLocked(w)
	}
	hs.held = 0
	hs.ep, hs.epFD, hs.epErr = nil, -1, errors.New("stack closed")
	ep.Close()
}

// checkHeld drops the held accepts whose callers are gone.
func (hs *handoffs) checkHeld() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, w := range hs.watched {
		hs.dropGoneLocked(w)
	}
}

// ready: the listener key has a connection queued. The monitor takes it,
// never waiting, for the oldest held accept, which gets H in place of a
// published client's S, or what came; without an io_uring that accept
// continues in the kernel and takes the connection itself, as it would
// have without the bypass.
func (hs *handoffs) ready(key uint32) {
	hs.mu.Lock()
	w := hs.watched[key]
	if w == nil {
		hs.mu.Unlock()
		return
	}
	var a heldAccept
	found := false
	for len(w.held) > 0 && !found {
		a = w.held[0]
		w.held = w.held[1:]
		hs.held--
		found = a.t.valid(a.id)
	}
	if !found {
		hs.unwatchLocked(w)
		hs.mu.Unlock()
		return
	}
	s, err := acceptNoWait(w.dup)
	switch {
	case err == unix.EAGAIN:
		// Taken meanwhile (by an accept continued earlier, or a
		// process outside the filter): a waits on.
		w.held = append([]heldAccept{a}, w.held...)
		hs.held++
		hs.armLocked(w)
		hs.mu.Unlock()
		return
	case err != nil:
		// No io_uring, or a listener shut down: the kernel's accept
		// gives the caller what it would have.
		s = -1
		a.t.answer(a.id, 0, true)
	}
	li, ino := w.li, w.ino
	if len(w.held) == 0 {
		hs.unwatchLocked(w)
	} else {
		hs.armLocked(w)
	}
	hs.mu.Unlock()
	if s >= 0 {
		errno, err := a.t.give(a.id, a.call, li, ino, s)
		a.t.finish(a.id, errno, err)
	}
}

// takeHeld takes the oldest held accept on a listener that accepts a
// connection to to with a socket of family: one bound to to's address
// before one bound to any.
func (hs *handoffs) takeHeld(to netip.AddrPort, family int) (heldAccept, *listenerInfo, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var best *watchedListener
	for _, w := range hs.watched {
		if len(w.held) == 0 || !w.li.accepts(to, family) {
			continue
		}
		if best == nil || best.li.addr.IsUnspecified() && !w.li.addr.IsUnspecified() {
			best = w
		}
	}
	if best == nil {
		return heldAccept{}, nil, false
	}
	a := best.held[0]
	best.held = best.held[1:]
	hs.held--
	if len(best.held) == 0 {
		hs.unwatchLocked(best)
	}
	return a, best.li, true
}

// handToHeld gives the published client c, whose host socket is of
// family and whom the server is to see as client, to a held accept on a
// listener of port to, if there is one. It reports whether c is the
// server's now.
func (st *Stack) handToHeld(c *net.TCPConn, family int, client, to netip.AddrPort) bool {
	for {
		a, li, ok := st.handoffs.takeHeld(to, family)
		if !ok {
			return false
		}
		if a.t.handTo(a, li, c, client) {
			return true
		}
	}
}

// handTo installs the host socket c in the held accept a's caller, as
// the connection its accept returns, and reports whether it did; where
// it did not, the accept was answered (an error, or continued) or its
// caller is gone.
func (t *connectTrap) handTo(a heldAccept, li *listenerInfo, c *net.TCPConn, client netip.AddrPort) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		t.answer(a.id, 0, true)
		return false
	}
	handed := false
	cerr := rc.Control(func(fd uintptr) {
		h := int(fd)
		li.inheritedOptions(h).apply(h)
		errno, err := t.install(a.id, a.call, li, h, client)
		switch {
		case err == nil && errno == 0:
			handed = true
		case errors.Is(err, errGone):
		case err != nil:
			t.answer(a.id, 0, true)
		default:
			t.answer(a.id, errno, false)
		}
		if !handed {
			_ = unix.SetNonblock(h, true) // the runtime's again
		}
	})
	if cerr != nil {
		t.answer(a.id, 0, true)
	}
	return handed
}

// install gives the caller of the accept id the socket fd, as a
// connection from peer accepted on the listener li: the address written
// to its buffer, its flags, and the descriptor installed and the accept
// answered in one step (SECCOMP_ADDFD_FLAG_SEND). Nothing is answered
// when it fails: the errno or error says what the caller is to get.
func (t *connectTrap) install(id uint64, c acceptCall, li *listenerInfo, fd int, peer netip.AddrPort) (syscall.Errno, error) {
	// Opened before the check, the memory is the caller's for certain
	// if the notification still stands after it: a thread id reused
	// since is another process's, whose memory this is not.
	mem := -1
	if c.addr != 0 {
		var err error
		if mem, err = unix.Open("/proc/"+strconv.Itoa(c.pid)+"/mem", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return 0, errNotBypassed
		}
		defer unix.Close(mem)
	}
	if !t.valid(id) {
		return 0, errGone
	}
	if c.addr != 0 {
		if errno := writeSockaddr(mem, c.addr, c.addrLen, li.family, peer); errno != 0 {
			return errno, nil
		}
	}
	if err := unix.SetNonblock(fd, c.nonblock); err != nil {
		return 0, errNotBypassed
	}
	add := seccompNotifAddfd{ID: id, Flags: unix.SECCOMP_ADDFD_FLAG_SEND, Srcfd: uint32(fd)}
	if c.close {
		add.NewfdFlags = unix.O_CLOEXEC
	}
	if err := t.control(unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&add)); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == unix.EMFILE || errno == unix.ENFILE) {
			return errno, nil
		}
		return 0, errGone
	}
	return 0, nil
}

// socketFamily is the family of the socket c (a dual-stack listener's
// IPv4 clients are AF_INET6); 0 when unknown.
func socketFamily(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	family := 0
	_ = rc.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil {
			family = v
		}
	})
	return family
}

// accepted is a connection the monitor accepted on a listener for a
// trapped accept, and the handoff it claimed (nil for any other
// connection).
type accepted struct {
	s           int
	ho          *handoff
	peer, local netip.AddrPort
	timer       *time.Timer // while parked
}

// parkWait is how long a connection accepted for a caller that was gone
// by the time it could be given waits for the listener's next accept,
// and maxParked how many a container's monitor keeps so.
const (
	parkWait  = time.Second
	maxParked = 16
)

// give gives the caller of the accept id the connection S it accepted on
// the listener li (inode ino), or the host socket in its place when S is
// a published connection's.
func (t *connectTrap) give(id uint64, c acceptCall, li *listenerInfo, ino uint64, s int) (syscall.Errno, error) {
	peer, local, err := endpoints(s)
	if err != nil {
		unix.Close(s)
		return 0, errNotBypassed // not connected any more: the kernel's turn
	}
	p := &accepted{s: s, peer: peer, local: local}
	p.ho = t.st.handoffs.claim(handoffKey{li.port, peer})
	if p.ho != nil && p.ho.family != li.family {
		// Not a socket this server could have accepted: S goes to it,
		// and dialIn splices H to T.
		p.ho.result <- false
		p.ho = nil
	}
	return t.giveAccepted(id, c, li, ino, p)
}

// giveAccepted is give of a connection accepted and its handoff claimed
// already. Where the caller is gone (a signal interrupted its accept,
// which restarts as a new notification), the connection is parked for
// the listener's next accept, so that the server sees it as it came;
// where it cannot take it (EMFILE), S is put back in the listener's
// queue, and a claimed H goes back to dialIn. The
// returned errno or error says what the caller gets. A bad address
// buffer loses the connection, as in the kernel.
func (t *connectTrap) giveAccepted(id uint64, c acceptCall, li *listenerInfo, ino uint64, p *accepted) (syscall.Errno, error) {
	s := p.s
	give, from := s, p.peer
	var handed func() // when H went to the server
	if ho := p.ho; ho != nil {
		hrc, err := ho.h.SyscallConn()
		if err == nil {
			err = hrc.Control(func(fd uintptr) { give = int(fd) })
		}
		if err != nil {
			ho.result <- false
			p.ho = nil
			give = s
		} else {
			from = ho.client
			li.inheritedOptions(give).apply(give)
			handed = func() {
				// S and T are no one's now: abort them (a reset, no
				// TIME-WAIT holding the client's port in the
				// namespace); dialIn closes T.
				_ = unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
				ho.result <- true
				ho.h.Close()
			}
		}
	}
	errno, err := t.install(id, c, li, give, from)
	if err == nil && errno == 0 {
		if handed != nil {
			handed()
		}
		unix.Close(s)
		return 0, nil
	}
	if give != s {
		_ = unix.SetNonblock(give, true)
	}
	if errors.Is(err, errGone) {
		if !t.valid(id) {
			t.park(ino, li, p)
			return 0, errGone
		}
		// Still waiting (a kernel without SECCOMP_ADDFD_FLAG_SEND,
		// say): its own accept takes what is put back.
		err = errNotBypassed
	}
	if errno == unix.EFAULT || errno == unix.EINVAL {
		// A bad address buffer: the kernel's accept drops the
		// connection it dequeued, and so does this one, rather than
		// let a container have the monitor put the same connection
		// back for ever.
		if p.ho != nil {
			p.ho.result <- false
		}
		_ = unix.SetsockoptLinger(p.s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(p.s)
		return errno, err
	}
	t.putBack(p)
	return errno, err
}

// finish answers the accept id as accept's results say.
func (t *connectTrap) finish(id uint64, errno syscall.Errno, err error) {
	switch {
	case errors.Is(err, errGone), errors.Is(err, errHeld), err == nil && errno == 0: // answered, held, or nobody waits
	case err != nil:
		t.answer(id, 0, true)
	default:
		t.answer(id, errno, false)
	}
}

// park keeps p for the next trapped accept on the listener ino: a held
// one takes it at once. Past maxParked it is put back.
func (t *connectTrap) park(ino uint64, li *listenerInfo, p *accepted) {
	hs := &t.st.handoffs
	hs.mu.Lock()
	if w := hs.byIno[ino]; w != nil && len(w.held) > 0 {
		a := w.held[0]
		w.held = w.held[1:]
		hs.held--
		if len(w.held) == 0 {
			hs.unwatchLocked(w)
		}
		hs.mu.Unlock()
		// Should its caller be gone too, p is parked again, for the
		// next: each round takes one held accept.
		errno, err := a.t.giveAccepted(a.id, a.call, li, ino, p)
		a.t.finish(a.id, errno, err)
		return
	}
	if hs.nparked >= maxParked {
		hs.mu.Unlock()
		t.putBack(p)
		return
	}
	if hs.parked == nil {
		hs.parked = map[uint64][]*accepted{}
	}
	hs.parked[ino] = append(hs.parked[ino], p)
	hs.nparked++
	p.timer = time.AfterFunc(parkWait, func() {
		if hs.unparkThis(ino, p) {
			t.putBack(p)
		}
	})
	hs.mu.Unlock()
}

// unpark takes the oldest connection parked on the listener ino, if any.
func (hs *handoffs) unpark(ino uint64) *accepted {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ps := hs.parked[ino]
	if len(ps) == 0 {
		return nil
	}
	p := ps[0]
	if len(ps) == 1 {
		delete(hs.parked, ino)
	} else {
		hs.parked[ino] = ps[1:]
	}
	hs.nparked--
	p.timer.Stop() // should it be firing, it finds p gone
	return p
}

// unparkThis takes p off the listener ino, unless it was taken already.
func (hs *handoffs) unparkThis(ino uint64, p *accepted) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ps := hs.parked[ino]
	i := slices.Index(ps, p)
	if i < 0 {
		return false
	}
	ps = slices.Delete(ps, i, i+1)
	if len(ps) == 0 {
		delete(hs.parked, ino)
	} else {
		hs.parked[ino] = ps
	}
	hs.nparked--
	return true
}

// putBack gives up on handing p to a caller: a claimed host socket goes
// back to dialIn, which splices it to T, and S goes back in its
// listener's queue.
func (t *connectTrap) putBack(p *accepted) {
	if p.ho != nil {
		p.ho.result <- false
	}
	t.requeue(p.s, p.peer, p.local)
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
	// Counted as a connection: a container that makes every handover
	// fail cannot make the monitor splice without bound.
	if !t.st.acquire() {
		t.st.wg.Done()
		f.Close()
		return
	}
	go func() {
		defer t.st.wg.Done()
		defer t.st.release()
		in, err := t.st.dialKernel(netip.AddrPortFrom(peer.Addr(), 0), local, nil)
		if err != nil {
			t.st.logf("network: put back a connection from %s: %v", peer, err)
			f.Close()
			return
		}
		t.st.spliceKernel(in, f)
	}()
}

// writeSockaddr writes a as the caller's accept would, through mem (its
// /proc/TID/mem), into its buffer addr of the length at addrLen
// (truncated to it, the full length written back), in family's form (an
// IPv4 client of an IPv6 listener as a v4-mapped address).
func writeSockaddr(mem int, addr, addrLen uintptr, family int, a netip.AddrPort) syscall.Errno {
	var lb [4]byte
	if k, err := unix.Pread(mem, lb[:], int64(addrLen)); err != nil || k != 4 {
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
		ip := a.Addr().Unmap().As4()
		copy(raw[4:], ip[:])
	} else {
		raw = make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(raw, unix.AF_INET6)
		binary.BigEndian.PutUint16(raw[2:], a.Port())
		ip := a.Addr().As16() // As16 maps an IPv4 address
		copy(raw[8:], ip[:])
	}
	if n := min(int(have), len(raw)); n > 0 {
		if k, err := unix.Pwrite(mem, raw[:n], int64(addr)); err != nil || k != n {
			return unix.EFAULT
		}
	}
	binary.NativeEndian.PutUint32(lb[:], uint32(len(raw)))
	if k, err := unix.Pwrite(mem, lb[:], int64(addrLen)); err != nil || k != 4 {
		return unix.EFAULT
	}
	return 0
}

// inherited are socket options to set on a handed-over host socket.
type inherited struct {
	opts   []struct{ level, opt, val int }
	linger *unix.Linger
}

// inheritedDiff finds the options a connection accepted on a listener
// inherits from it (values, of sockOptions, and linger, as the listener
// has them) where the host socket h differs: Go set TCP_NODELAY and
// keep-alive on h when the monitor accepted it, which the server did not
// ask for. Buffer sizes are left alone, so that h keeps the kernel's
// autotuning, and the segment size, which a listener does not pass on.
func inheritedDiff(values []int, linger *unix.Linger, h, family int) inherited {
	var in inherited
	for i, o := range sockOptions {
		if o.family != 0 && o.family != family || values[i] < 0 {
			continue
		}
		if o.level == unix.SOL_SOCKET && (o.opt == unix.SO_SNDBUF || o.opt == unix.SO_RCVBUF || o.opt == unix.SO_REUSEADDR) {
			continue
		}
		if o.level == unix.IPPROTO_IPV6 && o.opt == unix.IPV6_V6ONLY || o.level == unix.IPPROTO_TCP && o.opt == unix.TCP_MAXSEG {
			continue
		}
		if have, err := unix.GetsockoptInt(h, o.level, o.opt); err == nil && have != values[i] {
			in.opts = append(in.opts, struct{ level, opt, val int }{o.level, o.opt, values[i]})
		}
	}
	in.linger = linger
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
