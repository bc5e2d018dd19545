package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/lodger-containers/lodger/netstack/dns"
)

const nicID tcpip.NICID = 1

// The two ends of the container's link. The container's MAC is set on
// its interface, so that the stack never has to ask for it.
var (
	gatewayMAC = tcpip.LinkAddress("\x02\x4c\x4f\x44\x47\x01") // 02:4c:4f:44:47:01
	guestMAC   = tcpip.LinkAddress("\x02\x4c\x4f\x44\x47\x02")
)

// Stack is one running container's network: a gVisor stack on the
// container's TAP device, NAT to the host's sockets, and the resolver.
type Stack struct {
	cfg  Config
	plan plan
	s    *stack.Stack
	link *tapLink
	logf func(format string, args ...any)

	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{} // one per NAT'd flow

	mu    sync.Mutex
	conns map[io.Closer]struct{} // every open conn, closed by Close
	wg    sync.WaitGroup

	limitOnce sync.Once
	icmp      *pinger
	netns     *netnsSockets // published TCP through the kernels; nil: through the stack
	trap      *os.File      // the connect listener (bypass_linux.go), closed by Close
	handoffs  handoffs      // published connections waiting for the server's accept (accept_linux.go)
}

func tcpipAddr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }

func netipAddr(a tcpip.Address) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return ip
}

func protoOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// newStack starts a stack on the TAP fd tap, which it owns from here on.
func newStack(tap *os.File, cfg Config, resolver *dns.Resolver, logf func(string, ...any), linger func(*os.File) error) (*Stack, error) {
	mac := gatewayMAC
	if cfg.LAN != nil && cfg.LAN.MAC != "" {
		hw, err := net.ParseMAC(cfg.LAN.MAC)
		if err != nil {
			tap.Close()
			return nil, fmt.Errorf("gateway MAC %q: %w", cfg.LAN.MAC, err)
		}
		mac = tcpip.LinkAddress(hw)
	}
	link, err := newTapLink(tap, cfg.MTU, mac)
	if err != nil {
		tap.Close()
		return nil, err
	}
	// On a bridge the TAP sees frames flooded to every port: only those
	// for the gateway, and broadcasts, are the stack's.
	link.ownOnly = cfg.LAN != nil
	link.linger = linger
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	st := &Stack{cfg: cfg, plan: cfg.plan(), s: s, link: link, logf: logf, conns: map[io.Closer]struct{}{}}
	st.ctx, st.cancel = context.WithCancel(context.Background())
	st.slots = make(chan struct{}, cfg.MaxConns)
	if err := st.setup(resolver); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (st *Stack) setup(resolver *dns.Resolver) error {
	s := st.s
	opts := []tcpip.SettableTransportProtocolOption{
		ptr(tcpip.TCPSACKEnabled(true)),
		// Buffers grow with the flow (moderate receive buffer, as Linux's
		// tcp_moderate_rcvbuf) up to 8 MiB: a bulk transfer over a link
		// with no loss and 64 KiB frames needs a large window, an idle
		// connection little memory.
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20},
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20},
		ptr(tcpip.TCPModerateReceiveBufferOption(true)),
		// The link cannot reorder or duplicate, so TIME-WAIT protects
		// nothing; and a published-port connection is bound to its
		// client's address and port, which the host's kernel gives out
		// again one second after the last use on loopback
		// (net.ipv4.tcp_tw_reuse=2): the stack must have let go by then.
		ptr(tcpip.TCPTimeWaitTimeoutOption(100 * time.Millisecond)),
		ptr(tcpip.TCPTimeWaitReuseOption(tcpip.TCPTimeWaitReuseGlobal)),
	}
	for _, o := range opts {
		if tcpipErr := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); tcpipErr != nil {
			return fmt.Errorf("tcp option %T: %s", o, tcpipErr)
		}
	}
	// Echo requests are taken off the link before the stack sees them;
	// set before the NIC starts the link's reader.
	st.icmp = newPinger(st)
	st.link.intercept = st.icmp.intercept
	if tcpipErr := s.CreateNICWithOptions(nicID, st.link, stack.NICOptions{Name: "tap"}); tcpipErr != nil {
		return fmt.Errorf("create NIC: %s", tcpipErr)
	}
	// Every destination is answered here: promiscuous mode delivers
	// packets for any address to the stack, spoofing lets it answer as
	// that address (and, for published ports, connect as the client).
	s.SetPromiscuousMode(nicID, true)
	s.SetSpoofing(nicID, true)
	pl := st.plan
	addrs := []netip.Prefix{netip.PrefixFrom(pl.gateway, pl.subnet.Bits())}
	if pl.dns != pl.gateway {
		addrs = append(addrs, netip.PrefixFrom(pl.dns, pl.subnet.Bits()))
	}
	routes := []tcpip.Route{{Destination: subnet(pl.subnet), NIC: nicID}}
	if st.cfg.IPv6 {
		addrs = append(addrs, netip.PrefixFrom(pl.gateway6, pl.subnet6.Bits()))
		if pl.dns6 != pl.gateway6 {
			addrs = append(addrs, netip.PrefixFrom(pl.dns6, pl.subnet6.Bits()))
		}
		routes = append(routes, tcpip.Route{Destination: subnet(pl.subnet6), NIC: nicID})
	}
	for _, p := range addrs {
		pa := tcpip.ProtocolAddress{Protocol: protoOf(p.Addr()), AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpipAddr(p.Addr()), PrefixLen: p.Bits()}}
		if tcpipErr := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); tcpipErr != nil {
			return fmt.Errorf("add address %s: %s", p, tcpipErr)
		}
	}
	s.SetRouteTable(routes)
	// One container on its own link: its MAC is known. On a bridge the
	// stack asks (ARP, NDP) as any host would.
	if !pl.lan {
		if tcpipErr := s.AddStaticNeighbor(nicID, ipv4.ProtocolNumber, tcpipAddr(pl.guest), guestMAC); tcpipErr != nil {
			return fmt.Errorf("neighbour %s: %s", pl.guest, tcpipErr)
		}
		if st.cfg.IPv6 {
			if tcpipErr := s.AddStaticNeighbor(nicID, ipv6.ProtocolNumber, tcpipAddr(pl.guest6), guestMAC); tcpipErr != nil {
				return fmt.Errorf("neighbour %s: %s", pl.guest6, tcpipErr)
			}
		}
	}

	tcpFwd := tcp.NewForwarder(s, 0, st.cfg.MaxHalfOpen, st.forwardTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcpFwd.HandlePacket)
	udpFwd := udp.NewForwarder(s, st.forwardUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udpFwd.HandlePacket)

	if resolver != nil {
		if err := st.serveDNS(resolver, pl.dns); err != nil {
			return err
		}
		if st.cfg.IPv6 {
			if err := st.serveDNS(resolver, pl.dns6); err != nil {
				return err
			}
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func subnet(p netip.Prefix) tcpip.Subnet {
	sn, err := tcpip.NewSubnet(tcpipAddr(p.Addr()), tcpip.MaskFromBytes(net.CIDRMask(p.Bits(), p.Addr().BitLen())))
	if err != nil {
		panic(err)
	}
	return sn
}

// serveDNS answers on port 53 of addr, over UDP and TCP.
func (st *Stack) serveDNS(r *dns.Resolver, addr netip.Addr) error {
	full := tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(addr), Port: 53}
	pc, err := gonet.DialUDP(st.s, &full, nil, protoOf(addr))
	if err != nil {
		return fmt.Errorf("resolver on %s: %w", addr, err)
	}
	l, err := gonet.ListenTCP(st.s, full, protoOf(addr))
	if err != nil {
		pc.Close()
		return fmt.Errorf("resolver on %s: %w", addr, err)
	}
	st.track(pc)
	st.wg.Add(2)
	go func() { defer st.wg.Done(); _ = r.ServeUDP(pc) }()
	go func() { defer st.wg.Done(); _ = r.ServeTCP(l) }()
	go func() { <-st.ctx.Done(); l.Close() }()
	return nil
}

// acquire takes a flow slot, or says (once) why a flow was refused.
func (st *Stack) acquire() bool {
	select {
	case st.slots <- struct{}{}:
		return true
	default:
		st.limitOnce.Do(func() {
			st.logf("network: %d connections at once, the limit (--network netstack:max_conns=N); new ones are refused", st.cfg.MaxConns)
		})
		return false
	}
}

func (st *Stack) release() { <-st.slots }

// enter counts a flow's handler in for Close to wait for, unless the
// stack is closing already (a packet still in flight as it closes).
func (st *Stack) enter() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ctx.Err() != nil {
		return false
	}
	st.wg.Add(1)
	return true
}

// track registers a conn for Close; it reports false when the stack is
// already closing (the conn is then closed).
func (st *Stack) track(c io.Closer) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ctx.Err() != nil {
		c.Close()
		return false
	}
	st.conns[c] = struct{}{}
	return true
}

func (st *Stack) untrack(c io.Closer) {
	st.mu.Lock()
	delete(st.conns, c)
	st.mu.Unlock()
	c.Close()
}

// Close stops the stack and every flow through it.
func (st *Stack) Close() {
	st.mu.Lock()
	st.cancel()
	for c := range st.conns {
		c.Close()
	}
	if st.trap != nil {
		// From here on the container's connect fails with ENOSYS.
		st.trap.Close()
	}
	st.mu.Unlock()
	if st.link != nil {
		st.link.Close()
		st.s.Close()
	}
	st.wg.Wait()
	if st.s != nil {
		st.s.Wait()
	}
	if st.netns != nil {
		st.netns.close()
	}
}

// forwardTCP re-originates a connection the container opened as the
// user's own host socket. The handshake with the container completes only
// once the host's connect did, so that a refused connection is refused in
// the container too.
func (st *Stack) forwardTCP(r *tcp.ForwarderRequest) {
	id := r.ID()
	dst, err := st.cfg.destination(netipAddr(id.LocalAddress))
	if err != nil || !st.enter() {
		r.Complete(true)
		return
	}
	defer st.wg.Done()
	if !st.acquire() {
		r.Complete(true)
		return
	}
	defer st.release()
	ctx, cancel := context.WithTimeout(st.ctx, st.cfg.DialTimeout)
	out, err := (&net.Dialer{}).DialContext(ctx, "tcp", netip.AddrPortFrom(dst, id.LocalPort).String())
	cancel()
	if err != nil {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, tcpipErr := r.CreateEndpoint(&wq)
	if tcpipErr != nil {
		r.Complete(true)
		out.Close()
		return
	}
	r.Complete(false)
	st.splice(newStackConn(&wq, ep), out.(*net.TCPConn))
}

// splice copies both ways between a connection in the stack and a host
// socket until both directions ended, passing half closes on, and then
// closes both. A broken direction ends the other too.
func (st *Stack) splice(s *stackConn, h *net.TCPConn) {
	st.both(s, h, func() error { return copyOut(h, s) }, func() error { return copyIn(s, h) })
}

// both runs the two directions of a connection between a and b, tracked
// for Close, until both ended; a direction that fails ends the other by
// closing a and b.
func (st *Stack) both(a, b io.Closer, ab, ba func() error) {
	if !st.track(a) {
		b.Close()
		return
	}
	if !st.track(b) {
		st.untrack(a)
		return
	}
	defer st.untrack(a)
	defer st.untrack(b)
	errc := make(chan error, 2)
	go func() { errc <- ab() }()
	go func() { errc <- ba() }()
	for range 2 {
		if err := <-errc; err != nil {
			a.Close()
			b.Close()
		}
	}
}

// forwardUDP starts a flow for the first datagram the container sent to a
// new destination; it runs in the stack's packet path, so the relay runs
// apart.
func (st *Stack) forwardUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	dst, err := st.cfg.destination(netipAddr(id.LocalAddress))
	if err != nil || !st.enter() {
		return false // the stack answers port unreachable
	}
	if !st.acquire() {
		st.wg.Done()
		return false
	}
	out, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, id.LocalPort)))
	if err != nil {
		st.release()
		st.wg.Done()
		return false
	}
	var wq waiter.Queue
	ep, tcpipErr := r.CreateEndpoint(&wq)
	if tcpipErr != nil {
		st.release()
		st.wg.Done()
		out.Close()
		return false
	}
	in := gonet.NewUDPConn(&wq, ep)
	go func() {
		defer st.wg.Done()
		defer st.release()
		st.relayUDP(in, out)
	}()
	return true
}

// relayUDP copies datagrams both ways between two connected UDP sockets
// until neither side sent anything for the idle time.
func (st *Stack) relayUDP(a, b net.Conn) {
	if !st.track(a) {
		b.Close()
		return
	}
	if !st.track(b) {
		st.untrack(a)
		return
	}
	defer st.untrack(a)
	defer st.untrack(b)
	var mu sync.Mutex
	last := time.Now()
	touch := func() { mu.Lock(); last = time.Now(); mu.Unlock() }
	idle := func() bool { mu.Lock(); defer mu.Unlock(); return time.Since(last) >= st.cfg.UDPIdle }
	copyDatagrams := func(dst, src net.Conn) {
		buf := make([]byte, 65535)
		for {
			_ = src.SetReadDeadline(time.Now().Add(st.cfg.UDPIdle))
			n, err := src.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && !idle() {
					continue
				}
				a.Close()
				b.Close()
				return
			}
			touch()
			_, _ = dst.Write(buf[:n])
		}
	}
	done := make(chan struct{})
	go func() { copyDatagrams(b, a); close(done) }()
	copyDatagrams(a, b)
	<-done
}
