package netstack

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/lodger-containers/lodger/netstack/ports"
)

// Published UDP ports of a container on a user network.
//
// The container's monitor holds the host port but has no stack: the
// container's link is a veth on the network's bridge, and the one stack
// there is the network's gateway. UDP has no handshake to mark and no
// accepted socket to inherit a mark, so the kernel path of published TCP
// (inbound_linux.go) cannot carry its replies back. So the monitor hands
// each datagram, with the client's address, to the gateway over the
// gateway's relay socket (a SOCK_SEQPACKET unix socket in the network's
// 0700 run directory, LAN.Relay); the gateway's stack sends it to the
// container from the client's address, as the default network's stack
// does, and the container's reply, routed to the client through its
// default gateway, lands on the endpoint that sent it, which passes it
// back to the monitor, which sends it to the client from the host port.
//
// A message is a header — the client's address as the host saw it
// (echoed back, opaque to the gateway), the address the container sees
// the datagram come from, and the container's address and port — then
// the payload.

// relayAddrLen is one address in a relay header: its length (4 or 16),
// 16 bytes of address, and the port.
const relayAddrLen = 1 + 16 + 2

const relayHeaderLen = 3 * relayAddrLen

// relayMessageMax is the largest message: a full UDP payload and the
// header.
const relayMessageMax = 65535 + relayHeaderLen

func putRelayAddr(b []byte, ap netip.AddrPort) {
	a := ap.Addr()
	b[0] = byte(a.BitLen() / 8)
	a16 := a.As16()
	if a.Is4() {
		a4 := a.As4()
		a16 = [16]byte{}
		copy(a16[:], a4[:])
	}
	copy(b[1:17], a16[:])
	binary.BigEndian.PutUint16(b[17:19], ap.Port())
}

func relayAddr(b []byte) (netip.AddrPort, bool) {
	var a netip.Addr
	switch b[0] {
	case 4:
		a = netip.AddrFrom4([4]byte(b[1:5]))
	case 16:
		a = netip.AddrFrom16([16]byte(b[1:17]))
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[17:19])), true
}

// relayHeader is one message's addresses.
type relayHeader struct {
	client, from, to netip.AddrPort
}

func (h relayHeader) put(b []byte) {
	putRelayAddr(b[0:], h.client)
	putRelayAddr(b[relayAddrLen:], h.from)
	putRelayAddr(b[2*relayAddrLen:], h.to)
}

func parseRelayHeader(b []byte) (relayHeader, []byte, bool) {
	if len(b) < relayHeaderLen {
		return relayHeader{}, nil, false
	}
	var h relayHeader
	var ok1, ok2, ok3 bool
	h.client, ok1 = relayAddr(b[0:])
	h.from, ok2 = relayAddr(b[relayAddrLen:])
	h.to, ok3 = relayAddr(b[2*relayAddrLen:])
	return h, b[relayHeaderLen:], ok1 && ok2 && ok3
}

// ServeRelay answers monitors' published UDP datagrams on l, the
// gateway's relay socket (see above), until l is closed.
func (st *Stack) ServeRelay(l interface{ AcceptUnix() (*net.UnixConn, error) }) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go st.relayConn(c)
	}
}

// relayAllowed says whether the gateway sends as from to to: to must be
// a container on the network (not the gateway), and from either outside
// the network or the gateway itself (the host's loopback clients), so
// that a relayed datagram never claims to come from a neighbour.
func (st *Stack) relayAllowed(from, to netip.Addr) bool {
	p := st.plan
	if from.Is4() != to.Is4() || !p.onLink(to) || to == p.gateway || to == p.gateway6 {
		return false
	}
	return !p.onLink(from) || from == p.gateway || from == p.gateway6
}

// relayConn serves one monitor's connection: one flow per client and
// container port, each a UDP endpoint bound to the client's address and
// connected to the container, ended after the idle time or with the
// connection.
func (st *Stack) relayConn(c *net.UnixConn) {
	if !st.track(c) {
		return
	}
	defer st.untrack(c)
	type key struct{ from, to netip.AddrPort }
	var mu, wmu sync.Mutex
	flows := map[key]*relayFlow{}
	var wg sync.WaitGroup
	defer func() {
		mu.Lock()
		for _, f := range flows {
			f.conn.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	buf := make([]byte, relayMessageMax)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		h, payload, ok := parseRelayHeader(buf[:n])
		if !ok || !st.relayAllowed(h.from.Addr(), h.to.Addr()) {
			continue
		}
		k := key{h.from, h.to}
		mu.Lock()
		f := flows[k]
		if f == nil {
			f = st.openRelayFlow(h)
			if f == nil {
				mu.Unlock()
				continue
			}
			flows[k] = f
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer st.release()
				reply := make([]byte, relayMessageMax)
				for {
					_ = f.conn.SetReadDeadline(time.Now().Add(st.cfg.UDPIdle))
					m, err := f.conn.Read(reply[relayHeaderLen:])
					if err != nil {
						break
					}
					mu.Lock()
					client := f.client
					mu.Unlock()
					relayHeader{client: client, from: h.from, to: h.to}.put(reply)
					wmu.Lock()
					_, err = c.Write(reply[:relayHeaderLen+m])
					wmu.Unlock()
					if err != nil {
						break
					}
				}
				mu.Lock()
				if flows[k] == f {
					delete(flows, k)
				}
				mu.Unlock()
				st.untrack(f.conn)
			}()
		}
		// Two host clients the container sees as one (the host's
		// loopback over IPv4 and IPv6, say): the latest gets the
		// replies.
		f.client = h.client
		mu.Unlock()
		_, _ = f.conn.Write(payload)
	}
}

// relayFlow is one relayed client's endpoint in the gateway's stack.
type relayFlow struct {
	conn   *gonet.UDPConn
	client netip.AddrPort // guarded by relayConn's mu
}

// openRelayFlow opens the endpoint of a new relayed flow, or returns nil
// (the flow limit, a port the stack holds already).
func (st *Stack) openRelayFlow(h relayHeader) *relayFlow {
	if !st.acquire() {
		return nil
	}
	conn, err := st.dialUDPAs(h.from, h.to)
	if err != nil || !st.track(conn) {
		st.release()
		return nil
	}
	return &relayFlow{conn: conn, client: h.client}
}

// udpRelay is a monitor's end of one published UDP port's relay: the
// connection to the gateway, made at the first datagram and again after
// the gateway was restarted.
type udpRelay struct {
	path string
	l    ports.Listener

	mu   sync.Mutex
	conn *net.UnixConn
	wg   *sync.WaitGroup
	buf  []byte
}

func newUDPRelay(path string, l ports.Listener, wg *sync.WaitGroup) *udpRelay {
	return &udpRelay{path: path, l: l, wg: wg, buf: make([]byte, relayMessageMax)}
}

// send hands the gateway a datagram of client for the container of st.
func (r *udpRelay) send(st *Stack, client netip.AddrPort, payload []byte) {
	src := st.source(client.Addr())
	h := relayHeader{client: client, from: netip.AddrPortFrom(src, client.Port()), to: netip.AddrPortFrom(st.guest(src), r.l.Mapping.ContainerPort)}
	if !h.to.Addr().IsValid() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h.put(r.buf)
	n := copy(r.buf[relayHeaderLen:], payload)
	msg := r.buf[:relayHeaderLen+n]
	// One retry: a connection to a gateway that was restarted fails
	// once, then a new one is made.
	for range 2 {
		c, err := r.connLocked()
		if err != nil {
			return // no gateway now: the datagram is lost, as UDP may be
		}
		if _, err := c.Write(msg); err == nil {
			return
		}
		c.Close()
		r.conn = nil
	}
}

func (r *udpRelay) connLocked() (*net.UnixConn, error) {
	if r.conn != nil {
		return r.conn, nil
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: r.path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("reach the gateway's relay: %w", err)
	}
	r.conn = c
	r.wg.Add(1)
	go r.replies(c)
	return c, nil
}

// replies sends what the gateway passes back to the clients, until the
// connection ends.
func (r *udpRelay) replies(c *net.UnixConn) {
	defer r.wg.Done()
	buf := make([]byte, relayMessageMax)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			break
		}
		h, payload, ok := parseRelayHeader(buf[:n])
		if !ok {
			continue
		}
		_, _ = r.l.UDP.WriteToUDPAddrPort(payload, h.client)
	}
	r.mu.Lock()
	if r.conn == c {
		r.conn = nil
	}
	r.mu.Unlock()
	c.Close()
}

// close ends the relay's connection.
func (r *udpRelay) close() {
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()
}
