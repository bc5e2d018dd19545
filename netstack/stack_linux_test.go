package netstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/lodger-containers/lodger/netstack/dns"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// The tests put a second gVisor stack where the container's kernel would
// be, joined to lodger's stack by a socket pair that carries the same
// vnet-header frames as a TAP: no privileges needed.

type testbed struct {
	guest *stack.Stack
	net   *Network
	wire  *os.File // the guest's end, for hostile frames
}

func newTestbed(t *testing.T, cfg Config, publish []ports.Mapping) *testbed {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := os.NewFile(uintptr(fds[0]), "host")
	guestEnd := os.NewFile(uintptr(fds[1]), "guest")

	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(hosts, []byte("192.0.2.44 only-in-hosts.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := dns.New(dns.Config{Hosts: hosts, ResolvConf: resolv, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := ports.Listen(publish)
	if err != nil {
		t.Fatal(err)
	}
	n := newNetwork(cfg, ls, r, t.Logf)
	if err := n.attach(host, nil); err != nil {
		t.Fatal(err)
	}

	// The guest: the container's address, route and MAC.
	wireDup, err := unix.Dup(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(wireDup, true); err != nil {
		t.Fatal(err)
	}
	link, err := newTapLink(guestEnd, cfg.MTU, guestMAC)
	if err != nil {
		t.Fatal(err)
	}
	g := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if tcpipErr := g.CreateNIC(1, link); tcpipErr != nil {
		t.Fatal(tcpipErr)
	}
	g.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpipAddr(Guest), PrefixLen: 24}}, stack.AddressProperties{})
	g.SetRouteTable([]tcpip.Route{
		{Destination: subnet(Subnet), NIC: 1},
		{Destination: subnet(netip.MustParsePrefix("0.0.0.0/0")), Gateway: tcpipAddr(Gateway), NIC: 1},
	})
	tb := &testbed{guest: g, net: n, wire: os.NewFile(uintptr(wireDup), "wire")}
	t.Cleanup(func() {
		n.Close()
		g.Close()
		g.Wait()
		tb.wire.Close()
	})
	return tb
}

func testConfig() Config {
	c := DefaultConfig()
	c.IPv6 = false
	c.DialTimeout = 2 * time.Second
	return c
}

func (tb *testbed) dial(ctx context.Context, to netip.AddrPort) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, tb.guest, tcpip.FullAddress{NIC: 1, Addr: tcpipAddr(to.Addr()), Port: to.Port()}, ipv4.ProtocolNumber)
}

// echoServer answers each line with "echo LINE" on the host and reports
// each peer's address.
func echoServer(t *testing.T, addr string) (netip.AddrPort, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().(*net.TCPAddr).AddrPort(), serveEcho(t, l)
}

// serveEcho answers each line on l's connections with "echo LINE" and
// reports each peer's address (as many as the channel holds).
func serveEcho(t *testing.T, l net.Listener) <-chan string {
	t.Cleanup(func() { l.Close() })
	peers := make(chan string, 20000)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case peers <- c.RemoteAddr().String():
			default:
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					fmt.Fprintf(c, "echo %s", line)
				}
			}()
		}
	}()
	return peers
}

func roundTrip(c net.Conn) (string, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestOutboundTCPToAllowedHostLoopback(t *testing.T) {
	cfg := testConfig()
	cfg.AllowHostLoopback = true
	tb := newTestbed(t, cfg, nil)
	srv, _ := echoServer(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tb.dial(ctx, netip.AddrPortFrom(Gateway, srv.Port()))
	if err != nil {
		t.Fatalf("dial the gateway with allow_host_loopback: %v", err)
	}
	got, err := roundTrip(c)
	if err != nil || got != "echo ping\n" {
		t.Fatalf("round trip = %q, %v; want %q", got, err, "echo ping\n")
	}
}

func TestHostLoopbackRefusedByDefault(t *testing.T) {
	tb := newTestbed(t, testConfig(), nil)
	srv, peers := echoServer(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, dst := range []netip.Addr{Gateway, netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("10.0.2.77")} {
		c, err := tb.dial(ctx, netip.AddrPortFrom(dst, srv.Port()))
		if err == nil {
			c.Close()
			t.Errorf("dial %s: connected, want refused", dst)
		}
	}
	select {
	case p := <-peers:
		t.Errorf("the host's loopback server saw a connection from %s", p)
	default:
	}
}

func TestOutboundTCPToHostAddress(t *testing.T) {
	ip := hostAddress(t)
	tb := newTestbed(t, testConfig(), nil)
	srv, _ := echoServer(t, netip.AddrPortFrom(ip, 0).String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tb.dial(ctx, srv)
	if err != nil {
		t.Fatalf("dial %s: %v", srv, err)
	}
	if got, err := roundTrip(c); err != nil || got != "echo ping\n" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	// A closed port is refused at once, not timed out.
	l, _ := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	closed := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	start := time.Now()
	if c, err := tb.dial(ctx, closed); err == nil {
		c.Close()
		t.Fatalf("dial closed port %s: connected", closed)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
}

// hostAddress is a non-loopback IPv4 address of this machine.
func hostAddress(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Fatal("this machine has no non-loopback IPv4 address")
	return netip.Addr{}
}

func TestDNSFromHostsFile(t *testing.T) {
	tb := newTestbed(t, testConfig(), nil)
	name := dnsmessage.MustNewName("only-in-hosts.test.")
	q, _ := (&dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}).Pack()
	c, err := gonet.DialUDP(tb.guest, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpipAddr(DNS), Port: 53}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var resp dnsmessage.Message
	for i := 0; i < 3; i++ {
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
		if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		if err := resp.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(resp.Answers) != 1 {
		t.Fatalf("answers = %v, want one A record", resp.Answers)
	}
	if a, ok := resp.Answers[0].Body.(*dnsmessage.AResource); !ok || netip.AddrFrom4(a.A) != netip.MustParseAddr("192.0.2.44") {
		t.Fatalf("answer = %v, want 192.0.2.44", resp.Answers[0].Body)
	}
}

// guestServer is serveEcho in the guest.
func guestServer(t *testing.T, tb *testbed, port uint16) <-chan string {
	t.Helper()
	l, err := gonet.ListenTCP(tb.guest, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	return serveEcho(t, l)
}

func TestPublishedTCPKeepsClientAddress(t *testing.T) {
	ip := hostAddress(t)
	tb := newTestbed(t, testConfig(), []ports.Mapping{{ContainerPort: 8080, Protocol: "tcp"}})
	peers := guestServer(t, tb, 8080)
	hostPort := tb.net.Published()[0].HostPort
	for _, tc := range []struct {
		client netip.Addr
		want   netip.Addr
	}{
		{ip, ip}, // a real address: kept
		{netip.MustParseAddr("127.0.0.1"), Gateway}, // the host's loopback: the gateway
	} {
		c, err := net.Dial("tcp", netip.AddrPortFrom(tc.client, hostPort).String())
		if err != nil {
			t.Fatal(err)
		}
		local := c.LocalAddr().(*net.TCPAddr).AddrPort()
		if got, err := roundTrip(c); err != nil || got != "echo ping\n" {
			t.Fatalf("from %s: round trip = %q, %v", tc.client, got, err)
		}
		want := netip.AddrPortFrom(tc.want, local.Port()).String()
		if got := <-peers; got != want {
			t.Errorf("from %s: the server saw %s, want %s", tc.client, got, want)
		}
	}
}

func TestPublishedUDP(t *testing.T) {
	tb := newTestbed(t, testConfig(), []ports.Mapping{{HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: 5353, Protocol: "udp"}})
	pc, err := gonet.DialUDP(tb.guest, &tcpip.FullAddress{NIC: 1, Port: 5353}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte("hello "+from.String()+" "+string(buf[:n])), from) // the client times out on a lost reply
		}
	}()
	c, err := net.Dial("udp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tb.net.Published()[0].HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("hello %s x", netip.AddrPortFrom(Gateway, local.Port()))
	if got := string(buf[:n]); got != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
}

// TestPublishedConnectionsLeaveNothing: after many short connections
// have closed, no goroutine or fd is left.
func TestPublishedConnectionsLeaveNothing(t *testing.T) {
	tb := newTestbed(t, testConfig(), []ports.Mapping{{HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: 8080, Protocol: "tcp"}})
	guestServer(t, tb, 8080)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tb.net.Published()[0].HostPort).String()
	one := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(c); err != nil || got != "echo ping\n" {
			t.Fatalf("round trip = %q, %v", got, err)
		}
	}
	one()
	time.Sleep(100 * time.Millisecond)
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 2000; i++ {
		one()
	}
	var g1, f1 int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		g1, f1 = runtime.NumGoroutine(), openFDs(t)
		if g1 <= g0+2 && f1 <= f0 {
			return
		}
	}
	t.Errorf("after 2000 connections: goroutines %d → %d, fds %d → %d", g0, g1, f0, f1)
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestHostileFrames: garbage on the wire never stops the stack.
func TestHostileFrames(t *testing.T) {
	cfg := testConfig()
	cfg.AllowHostLoopback = true
	tb := newTestbed(t, cfg, nil)
	frames := [][]byte{
		{},
		make([]byte, 5),
		make([]byte, 10+14),
	}
	eth := func(typ uint16, body []byte) []byte {
		f := make([]byte, 10+14+len(body))
		copy(f[10:], guestMAC)
		copy(f[10:], gatewayMAC)
		copy(f[16:], guestMAC)
		f[22], f[23] = byte(typ>>8), byte(typ)
		copy(f[24:], body)
		return f
	}
	ipv4Bad := []byte{0x45, 0, 0xff, 0xff, 0, 0, 0x20, 0, 64, 6, 0, 0, 10, 0, 2, 100, 192, 0, 2, 1}
	frames = append(frames,
		eth(0x0800, ipv4Bad),
		eth(0x0800, ipv4Bad[:7]),
		eth(0x0800, append(append([]byte{}, ipv4Bad[:2]...), 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 2, 100, 10, 0, 2, 2, 8, 0)), // short ICMP
		eth(0x86dd, make([]byte, 39)),
		eth(0x0806, make([]byte, 3)),
		eth(0x1234, make([]byte, 100)),
	)
	// GSO claims on tiny frames, checksum offsets past the end.
	g := eth(0x0800, ipv4Bad)
	g[0], g[1], g[4], g[6], g[8] = 1, 1, 0xff, 0xff, 0xff
	frames = append(frames, g)
	// Every frame goes out whole; a stack that stopped reading leaves the
	// socket full and the write waiting, until the deadline. (os.File's
	// Write does not wait to send an empty record: it returns EAGAIN.)
	rc, err := tb.wire.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.wire.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	send := func(f []byte) (n int, err error) {
		waitErr := rc.Write(func(fd uintptr) bool {
			n, err = unix.Write(int(fd), f)
			return err != unix.EAGAIN
		})
		return max(n, 0), errors.Join(waitErr, err)
	}
	for i := 0; i < 200; i++ {
		for j, f := range frames {
			if n, err := send(f); n != len(f) || err != nil {
				t.Fatalf("round %d, frame %d: wrote %d of %d bytes: %v", i, j, n, len(f), err)
			}
		}
	}
	// And the stack read them all before the dial below.
	queued := func() int {
		var n int
		var ioctlErr error
		err := rc.Control(func(fd uintptr) { n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		if err = errors.Join(err, ioctlErr); err != nil {
			t.Fatalf("bytes queued on the wire: %v", err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); queued() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of hostile frames still unread after 10 s: the stack stopped reading", queued())
		}
	}
	srv, _ := echoServer(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tb.dial(ctx, netip.AddrPortFrom(Gateway, srv.Port()))
	if err != nil {
		t.Fatalf("after hostile frames: %v", err)
	}
	if got, err := roundTrip(c); err != nil || !strings.HasPrefix(got, "echo") {
		t.Fatalf("after hostile frames: %q, %v", got, err)
	}
}
