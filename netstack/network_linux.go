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
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/lodger-containers/lodger/netstack/dns"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// Network is a container's network for as long as its monitor lives: the
// host ports published for it and the resolver, which outlast a restart,
// and the stack of the current run of the container.
type Network struct {
	cfg       Config
	listeners []ports.Listener
	resolver  *dns.Resolver
	logf      func(format string, args ...any)

	current atomic.Pointer[Stack]
	wg      sync.WaitGroup
	closed  chan struct{}
	linger  func(*os.File) error
}

// SetLinger has each TAP handed to fn before the stack closes it: a
// process about to exit gives the device's teardown to a helper (see
// exec.Linger). Set it before Attach.
func (n *Network) SetLinger(fn func(*os.File) error) { n.linger = fn }

// Open serves the published host ports ls (bound by ports.Listen; the
// Network owns them from here on) and prepares the resolver. logf
// receives the few lines a user should see (a limit hit, ping not
// allowed).
func Open(cfg Config, ls []ports.Listener, logf func(format string, args ...any)) (*Network, error) {
	return OpenNames(cfg, ls, nil, logf)
}

// OpenNames is Open with a resolver that asks names first (a container
// on the default network and on user networks too finds its neighbours
// there).
func OpenNames(cfg Config, ls []ports.Listener, names dns.Names, logf func(format string, args ...any)) (*Network, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// A client's own servers (names' Upstreams: the container's --dns)
	// are dialled under the container's policy: not the host's loopback
	// unless allowed, nothing on its own link.
	var d net.Dialer
	dial := func(ctx context.Context, network string, server netip.AddrPort) (net.Conn, error) {
		dst, err := cfg.destination(server.Addr())
		if err != nil {
			return nil, fmt.Errorf("nameserver %s: %w", server, err)
		}
		return d.DialContext(ctx, network, netip.AddrPortFrom(dst, server.Port()).String())
	}
	r, err := dns.New(dns.Config{Names: names, Dial: dial})
	if err != nil {
		for _, l := range ls {
			_ = l.Close()
		}
		return nil, err
	}
	return newNetwork(cfg, ls, r, logf), nil
}

// newNetwork starts serving the published ports ls with resolver r.
func newNetwork(cfg Config, ls []ports.Listener, r *dns.Resolver, logf func(format string, args ...any)) *Network {
	n := &Network{cfg: cfg, listeners: ls, resolver: r, logf: logf, closed: make(chan struct{})}
	for _, l := range ls {
		n.wg.Add(1)
		if l.TCP != nil {
			go n.serveTCP(l)
		} else {
			go n.serveUDP(l)
		}
	}
	return n
}

// OwnLink says whether the container's link is this network's own (a
// TAP, eth0), not a veth on a user network's bridge.
func (n *Network) OwnLink() bool { return n.cfg.LAN == nil }

// Published is the published ports with the host ports really bound.
func (n *Network) Published() []ports.Mapping {
	out := make([]ports.Mapping, len(n.listeners))
	for i, l := range n.listeners {
		out[i] = l.Mapping
	}
	return out
}

// Attach gives the container whose init is pid its interface, and runs a
// stack on it; a stack of an earlier run is stopped first.
func (n *Network) Attach(pid int) error {
	n.Detach()
	if n.cfg.LAN != nil {
		return n.attachLAN(pid)
	}
	// The kernel path of published TCP ports (a routing rule, a thread
	// in the container's namespace) is set up only for a container that
	// publishes one: a plain run pays nothing for it.
	tap, inbound, err := openTAP(pid, n.cfg, n.publishesTCP())
	if err != nil {
		return err
	}
	var ns *netnsSockets
	if inbound {
		// Without it, published TCP goes through the stack.
		ns, _ = newNetnsSockets(pid, n.cfg.IPv6)
	}
	return n.attach(tap, ns)
}

// attachLAN serves the published TCP ports of a container on a user
// network: its link is a veth on the network's bridge, whose gateway
// process runs the stack, so here there is no link and no stack, only
// the kernel path of published connections (inbound_linux.go) to the
// container's address on the network.
func (n *Network) attachLAN(pid int) error {
	st := &Stack{cfg: n.cfg, plan: n.cfg.plan(), logf: n.logf, conns: map[io.Closer]struct{}{}}
	st.ctx, st.cancel = context.WithCancel(context.Background())
	st.slots = make(chan struct{}, n.cfg.MaxConns)
	if n.publishesTCP() {
		if err := inNetns(pid, func() error { return routeInbound(n.cfg) }); err != nil {
			return fmt.Errorf("published ports: %w", err)
		}
		ns, err := newNetnsSockets(pid, n.cfg.IPv6)
		if err != nil {
			return fmt.Errorf("published ports: %w", err)
		}
		st.netns = ns
	}
	n.current.Store(st)
	return nil
}

// attach runs a stack on the link fd tap (tests hand a socket pair), with
// ns, when not nil, for published TCP connections.
func (n *Network) attach(tap *os.File, ns *netnsSockets) error {
	st, err := newStack(tap, n.cfg, n.resolver, n.logf, n.linger)
	if err != nil {
		if ns != nil {
			ns.close()
		}
		return err
	}
	st.netns = ns
	n.current.Store(st)
	return nil
}

// Trap names the calls the container's filter hands to ServeConnect:
// connect for Config.Bypass, accept and accept4 for Config.AcceptBypass
// when a TCP port is published; none when neither is on.
func (n *Network) Trap() []string {
	var calls []string
	if n.cfg.LAN != nil {
		return nil // the bypasses are the default network's
	}
	if n.cfg.Bypass {
		calls = append(calls, "connect")
	}
	if n.cfg.AcceptBypass && n.publishesTCP() {
		calls = append(calls, "accept", "accept4")
	}
	return calls
}

// publishesTCP says whether a TCP port is published: without one there is
// nothing to hand an accept.
func (n *Network) publishesTCP() bool {
	for _, l := range n.listeners {
		if l.TCP != nil {
			return true
		}
	}
	return false
}

// ServeConnect serves the connect listener of the container attached
// last, for as long as its stack runs; it owns listener.
func (n *Network) ServeConnect(listener *os.File) {
	st := n.current.Load()
	if st == nil {
		listener.Close()
		return
	}
	st.serveConnect(listener)
}

// Detach stops the current stack (the container exited).
func (n *Network) Detach() {
	if st := n.current.Swap(nil); st != nil {
		st.Close()
	}
}

// Close stops everything and frees the host ports.
func (n *Network) Close() {
	close(n.closed)
	for _, l := range n.listeners {
		_ = l.Close()
	}
	n.wg.Wait()
	n.Detach()
}

func (n *Network) serveTCP(l ports.Listener) {
	defer n.wg.Done()
	for {
		c, err := l.TCP.AcceptTCP()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case <-n.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of fds, say: wait rather than spin.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		st := n.current.Load()
		if st == nil {
			c.Close()
			continue
		}
		go st.dialIn(c, l.Mapping.ContainerPort)
	}
}

// source is the address the container sees a published-port client come
// from: its own address, except where the container could not answer it
// (the host's loopback, an address on the container's own link, IPv6 for
// a container without): those come from the gateway, which is the host.
func (st *Stack) source(client netip.Addr) netip.Addr {
	client = client.Unmap()
	p := st.plan
	switch {
	case client.Is4() && (client.IsLoopback() || p.onLink(client) || Subnet.Contains(client) || client.IsUnspecified()):
		return p.gateway
	case client.Is6() && !st.cfg.IPv6:
		return p.gateway
	case client.Is6() && (client.IsLoopback() || p.onLink(client) || Subnet6.Contains(client) || client.IsLinkLocalUnicast()):
		return p.gateway6
	}
	return client
}

func (st *Stack) guest(from netip.Addr) netip.Addr {
	if from.Is4() {
		return st.plan.guest
	}
	return st.plan.guest6
}

// dialIn connects a client of a published TCP port to the container, as
// the client: the server in the container sees the client's address.
func (st *Stack) dialIn(c *net.TCPConn, port uint16) {
	if !st.enter() {
		c.Close()
		return
	}
	defer st.wg.Done()
	if !st.acquire() {
		c.Close()
		return
	}
	defer st.release()
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	src := st.source(client.Addr())
	from, to := netip.AddrPortFrom(src, client.Port()), netip.AddrPortFrom(st.guest(src), port)
	if st.netns != nil {
		// With the accept bypass the server may be handed c itself
		// (accept_linux.go): at once by a blocking accept held for this
		// port, or by the accept that T wakes. Not where the client
		// would not appear as itself, nor where the last client of this
		// port waited for a trapped accept in vain (the server is outside
		// the filter) or the port's listener is of another family than
		// c.
		var ho *handoff
		var bound func(netip.AddrPort)
		if st.cfg.AcceptBypass && src == client.Addr().Unmap() {
			family := socketFamily(c)
			if st.handToHeld(c, family, from, to) {
				c.Close() // the server's now
				return
			}
			if st.handoffs.mayAccept(port, family) {
				ho = newHandoff(c, family, from)
				bound = func(local netip.AddrPort) { st.handoffs.add(handoffKey{port, local}, ho) }
			}
		}
		in, err := st.dialKernel(from, to, bound)
		handed := false
		if ho != nil {
			wait := acceptWait
			if err != nil {
				wait = 0
			}
			handed = ho.settle(wait)
			st.handoffs.remove(ho)
			if err == nil && ho.missed() {
				st.handoffs.sawAccept(port, false, 0)
			}
		}
		switch {
		case handed && err == nil:
			in.Close() // c is the server's now
		case handed:
		case err != nil:
			c.Close()
		default:
			st.spliceKernel(in, c)
		}
		return
	}
	if st.s == nil {
		c.Close()
		return
	}
	in, err := st.dialTCP(from, to)
	for wait := 10 * time.Millisecond; errors.Is(err, errTupleInUse) && wait < 2*time.Second; wait *= 2 {
		// An earlier connection of the same client port is still
		// closing in the stack.
		time.Sleep(wait)
		in, err = st.dialTCP(from, to)
	}
	if err != nil {
		c.Close()
		return
	}
	st.splice(in, c)
}

// errTupleInUse: the stack still holds a connection between the same
// two addresses and ports.
var errTupleInUse = errors.New("connection between these addresses still closing")

func (st *Stack) dialTCP(from, to netip.AddrPort) (*stackConn, error) {
	proto := protoOf(to.Addr())
	var wq waiter.Queue
	ep, tcpipErr := st.s.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if tcpipErr != nil {
		return nil, fmt.Errorf("connect to the container: %s", tcpipErr)
	}
	// A client port the stack still holds from an earlier connection of
	// the same client (TIME-WAIT) is free to use again.
	ep.SocketOptions().SetReuseAddress(true)
	ep.SocketOptions().SetDelayOption(false)
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if tcpipErr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(from.Addr()), Port: from.Port()}); tcpipErr != nil {
		ep.Close()
		return nil, fmt.Errorf("connect to the container as %s: %s", from, tcpipErr)
	}
	tcpipErr = ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(to.Addr()), Port: to.Port()})
	if _, ok := tcpipErr.(*tcpip.ErrBadLocalAddress); ok {
		ep.Close()
		return nil, errTupleInUse
	}
	if _, ok := tcpipErr.(*tcpip.ErrConnectStarted); ok {
		ctx, cancel := context.WithTimeout(st.ctx, st.cfg.DialTimeout)
		select {
		case <-ctx.Done():
			cancel()
			ep.Close()
			return nil, ctx.Err()
		case <-notify:
		}
		cancel()
		tcpipErr = ep.LastError()
	}
	if tcpipErr != nil {
		ep.Close()
		return nil, fmt.Errorf("connect to the container's port %d: %s", to.Port(), tcpipErr)
	}
	return newStackConn(&wq, ep), nil
}

// serveUDP relays datagrams of a published UDP port: one flow per client
// address, each a socket in the stack bound to the client's address, ended
// after the idle time.
func (n *Network) serveUDP(l ports.Listener) {
	defer n.wg.Done()
	type flow struct {
		conn *gonet.UDPConn
		st   *Stack
	}
	var mu sync.Mutex
	flows := map[netip.AddrPort]*flow{}
	// A container on a user network has no stack here: its datagrams go
	// through the network's gateway (relay_linux.go).
	var relay *udpRelay
	if n.cfg.LAN != nil && n.cfg.LAN.Relay != "" {
		relay = newUDPRelay(n.cfg.LAN.Relay, l, &n.wg)
		defer relay.close()
	}
	defer func() {
		mu.Lock()
		for _, f := range flows {
			f.conn.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 65535)
	for {
		nr, client, err := l.UDP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-n.closed:
				return
			default:
				continue
			}
		}
		st := n.current.Load()
		if st != nil && st.s == nil && relay != nil {
			relay.send(st, client, buf[:nr])
			continue
		}
		if st == nil || st.s == nil {
			continue
		}
		mu.Lock()
		f := flows[client]
		if f != nil && f.st != st {
			f.conn.Close()
			delete(flows, client)
			f = nil
		}
		if f == nil {
			if len(flows) >= st.cfg.MaxConns {
				mu.Unlock()
				continue
			}
			conn, err := st.dialUDP(client, l.Mapping.ContainerPort)
			if err != nil {
				mu.Unlock()
				continue
			}
			f = &flow{conn: conn, st: st}
			flows[client] = f
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				reply := make([]byte, 65535)
				for {
					_ = conn.SetReadDeadline(time.Now().Add(st.cfg.UDPIdle))
					m, err := conn.Read(reply)
					if err != nil {
						break
					}
					_, _ = l.UDP.WriteToUDPAddrPort(reply[:m], client)
				}
				mu.Lock()
				if flows[client] == f {
					delete(flows, client)
				}
				mu.Unlock()
				conn.Close()
			}()
		}
		mu.Unlock()
		_, _ = f.conn.Write(buf[:nr])
	}
}

func (st *Stack) dialUDP(client netip.AddrPort, port uint16) (*gonet.UDPConn, error) {
	src := st.source(client.Addr())
	return st.dialUDPAs(netip.AddrPortFrom(src, client.Port()), netip.AddrPortFrom(st.guest(src), port))
}

// dialUDPAs opens a UDP endpoint in the stack bound to from, which the
// stack need not own (spoofing), and connected to to.
func (st *Stack) dialUDPAs(from, to netip.AddrPort) (*gonet.UDPConn, error) {
	proto := protoOf(from.Addr())
	var wq waiter.Queue
	ep, tcpipErr := st.s.NewEndpoint(udp.ProtocolNumber, proto, &wq)
	if tcpipErr != nil {
		return nil, fmt.Errorf("udp to the container: %s", tcpipErr)
	}
	ep.SocketOptions().SetReuseAddress(true)
	if tcpipErr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(from.Addr()), Port: from.Port()}); tcpipErr != nil {
		ep.Close()
		return nil, fmt.Errorf("udp to the container as %s: %s", from, tcpipErr)
	}
	if tcpipErr := ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(to.Addr()), Port: to.Port()}); tcpipErr != nil {
		ep.Close()
		return nil, fmt.Errorf("udp to the container: %s", tcpipErr)
	}
	return gonet.NewUDPConn(&wq, ep), nil
}

// ServeGateway runs a user network's gateway: a stack on tap, a TAP in
// the network's bridge, that answers as cfg.LAN's gateway for the whole
// subnet. It carries what the containers send out (NAT through the
// user's sockets, as the default network's stack; nothing on an internal
// network), answers ICMP echo, and resolves at the gateway's address:
// names from names first (the network's containers), then the host's
// resolvers. It owns tap; Close stops it.
func ServeGateway(tap *os.File, cfg Config, names dns.Names, logf func(format string, args ...any)) (*Stack, error) {
	if cfg.LAN == nil {
		tap.Close()
		return nil, errors.New("gateway without a network")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cfg.Bypass, cfg.AcceptBypass = false, false
	// A container's --dns server may be a neighbour on the network,
	// which only the stack reaches; the others are dialled from the host
	// under the containers' own policy (no host loopback, nothing on an
	// internal network). The host's resolvers, which the user chose,
	// are dialled as they are (dns.Config.Dial is only for a client's).
	var self atomic.Pointer[Stack]
	var d net.Dialer
	dial := func(ctx context.Context, network string, server netip.AddrPort) (net.Conn, error) {
		st := self.Load()
		if st == nil {
			return nil, errors.New("resolver: the gateway is starting")
		}
		if !st.plan.onLink(server.Addr()) {
			if _, err := cfg.destination(server.Addr()); err != nil {
				return nil, fmt.Errorf("nameserver %s: %w", server, err)
			}
			return d.DialContext(ctx, network, server.String())
		}
		full := tcpip.FullAddress{NIC: nicID, Addr: tcpipAddr(server.Addr()), Port: server.Port()}
		if network == "tcp" {
			return gonet.DialContextTCP(ctx, st.s, full, protoOf(server.Addr()))
		}
		return gonet.DialUDP(st.s, nil, &full, protoOf(server.Addr()))
	}
	r, err := dns.New(dns.Config{Names: names, Dial: dial})
	if err != nil {
		tap.Close()
		return nil, err
	}
	st, err := newStack(tap, cfg, r, logf, nil)
	if err != nil {
		return nil, err
	}
	self.Store(st)
	return st, nil
}
