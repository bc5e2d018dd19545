//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 12, finding 1: no socket lodger gives a container may be re-aimed
// at what the container's network must not reach. The attacker is
// `nettool probe`, run inside containers: it takes a socket as a container
// gets one (a connect, or an accept of a published connection), then
// disconnects it (connect with AF_UNSPEC) and reconnects it, dup'd, as
// v4-mapped IPv6, with MSG_FASTOPEN, binds it to host interfaces, lists
// interfaces through it, binds and listens on it, hands it to a process
// outside the container's filters, and asks for an io_uring. The secret
// is a server on the host's 127.0.0.1, which no container may reach by
// default.
//
// Each case has its control: the opt-in bypasses (bypass=true,
// accept_bypass=true) hand the container host sockets, documented as
// equivalent to --network host for TCP, and there the same probe must
// reach the secret, or the probe proves nothing.

// probeSetup is what the probes aim at.
type probeSetup struct {
	ip     netip.Addr   // the host's address
	first  *helloServer // on ip: a destination containers may reach
	secret *helloServer // on the host's 127.0.0.1
	hostIf string       // host interfaces the containers have none of
}

func newProbeSetup(t *testing.T) *probeSetup {
	t.Helper()
	p := &probeSetup{ip: hostIPv4(t)}
	p.first = startHelloServer(t, p.ip)
	p.secret = startHelloServer(t, netip.MustParseAddr("127.0.0.1"))
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		// A container has lo and eth0 of its own.
		if i.Name != "lo" && i.Name != "eth0" {
			names = append(names, i.Name)
		}
	}
	p.hostIf = strings.Join(names, ",")
	return p
}

func (p *probeSetup) args(extra ...string) []string {
	args := append([]string{"nettool", "probe", "-hostif", p.hostIf}, extra...)
	return append(args,
		netip.AddrPortFrom(p.ip, uint16(p.first.port)).String(),
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p.secret.port)).String())
}

// probeLines are the probe's reports by attack.
func probeLines(out string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines(out) {
		name, rest, _ := strings.Cut(l, " ")
		m[name] = append(m[name], rest)
	}
	return m
}

// assertConfined fails t if any attack in the probe's output reached
// anything, or the secret server got a client since it had before, and
// checks what the socket itself shows: the container's own address and
// interfaces only.
func (p *probeSetup) assertConfined(t *testing.T, out string, before int64) {
	t.Helper()
	if !strings.Contains(out, "\ndone") {
		t.Fatalf("the probe did not finish:\n%s", out)
	}
	for _, l := range lines(out) {
		if strings.Contains(l, " reached") {
			t.Errorf("the container re-aimed a socket lodger gave it: %q", l)
		}
	}
	m := probeLines(out)
	if loc := m["local"]; len(loc) != 1 || !(strings.HasPrefix(loc[0], "info 10.0.2.100:") || strings.HasPrefix(loc[0], "info [::ffff:10.0.2.100]:")) {
		t.Errorf("getsockname on the container's socket: %q, want the container's own 10.0.2.100", loc)
	}
	if ic := m["ifconf"]; len(ic) != 1 || strings.Contains(ic[0], p.ip.String()) || !strings.Contains(ic[0], "10.0.2.100") {
		t.Errorf("SIOCGIFCONF through the container's socket: %q, want only the container's interfaces (10.0.2.100), never the host's %s", ic, p.ip)
	}
	if io := m["io_uring"]; len(io) != 1 || !strings.HasPrefix(io[0], "refused") {
		t.Errorf("io_uring_setup: %q, want it refused by the default seccomp profile", io)
	}
	if n := p.secret.clients.Load() - before; n != 0 {
		t.Errorf("the server on the host's 127.0.0.1 got %d clients from the container, want none", n)
	}
}

func TestNetworkSocketsStayInTheContainer(t *testing.T) {
	p := newProbeSetup(t)

	t.Run("connected sockets", func(t *testing.T) {
		before := p.secret.clients.Load()
		r := runRm(t, append([]string{netImage()}, p.args()...)...)
		wantCode(t, r, 0)
		p.assertConfined(t, r.stdout, before)
	})
	t.Run("control: bypass=true hands out host sockets", func(t *testing.T) {
		before := p.secret.clients.Load()
		r := runRm(t, append([]string{"--network", "netstack:bypass=true", netImage()}, p.args("-only", "local,reconnect,fastopen-sendto")...)...)
		wantCode(t, r, 0)
		m := probeLines(r.stdout)
		if loc := m["local"]; len(loc) != 1 || !strings.HasPrefix(loc[0], "info "+p.ip.String()+":") {
			t.Errorf("%s\nwith bypass=true want a host socket (getsockname %s)", r, p.ip)
		}
		if re := m["reconnect"]; len(re) != 1 || !strings.HasPrefix(re[0], "reached hello ") {
			t.Errorf("%s\nwith bypass=true the probe must reach the host's loopback (the option is --network host for TCP); it did not, so the probe proves nothing", r)
		}
		if p.secret.clients.Load() == before {
			t.Errorf("the host's loopback server saw no client from the bypass=true probe")
		}
	})

	t.Run("accepted sockets", func(t *testing.T) {
		p.acceptCase(t, "probe-accept", nil, false)
	})
	t.Run("control: accept_bypass=true hands out host sockets", func(t *testing.T) {
		p.acceptCase(t, "probe-accept-bypass", []string{"--network", "netstack:accept_bypass=true"}, true)
	})

	t.Run("a socket handed to a process outside the filter", func(t *testing.T) {
		p.fdPassCase(t, "probe-fd", nil, false)
	})
	t.Run("control: a bypassed socket handed on", func(t *testing.T) {
		p.fdPassCase(t, "probe-fd-bypass", []string{"--network", "netstack:bypass=true"}, true)
	})

	t.Run("bind and listen take no host port", func(t *testing.T) {
		e := shared
		port := freePort(t, "tcp", netip.IPv4Unspecified())
		runDetached(t, e, "probe-bind", append([]string{netImage()}, p.args("-only", "bind", "-bindport", strconv.Itoa(port), "-hold", "60s")...)...)
		out := waitLogLine(t, e, "probe-bind", "bind ")
		// Listening on a disconnected socket fails with EINVAL on some
		// kernels (6.18), not on others: bound is enough to squat.
		if !strings.Contains(out, "bind listening") && !strings.Contains(out, "bind bound") {
			t.Fatalf("%s\nwant the container's socket bound to its own port %d", out, port)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
		if err != nil {
			t.Fatalf("the host's port %d is taken while a container listens on its own: %v", port, err)
		}
		l.Close()
	})
	t.Run("control: a bypassed socket squats the host's port", func(t *testing.T) {
		e := shared
		port := freePort(t, "tcp", netip.IPv4Unspecified())
		runDetached(t, e, "probe-bind-bypass", append([]string{"--network", "netstack:bypass=true", netImage()}, p.args("-only", "bind", "-bindport", strconv.Itoa(port), "-hold", "60s")...)...)
		out := waitLogLine(t, e, "probe-bind-bypass", "bind ")
		if !strings.Contains(out, "bind listening") && !strings.Contains(out, "bind bound") {
			t.Fatalf("%s\nwith bypass=true want the host socket bound to port %d", out, port)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
		if err == nil {
			l.Close()
			t.Fatalf("%s\nwith bypass=true the container's bind must take the host's port %d (the option is --network host for TCP); it did not, so the probe proves nothing", out, port)
		}
		if !isAddrInUse(err) {
			t.Errorf("listen on the squatted port: %v, want EADDRINUSE", err)
		}
	})
}

// acceptCase runs the probe as a server behind a published port, and
// connects to it from the host's address once per attack.
func (p *probeSetup) acceptCase(t *testing.T, name string, opts []string, wantReach bool) {
	t.Helper()
	e := shared
	public := freePort(t, "tcp", netip.IPv4Unspecified())
	attacks := "local,ifconf,reconnect,reconnect-v4mapped,fastopen-sendto,bindtodevice,io_uring"
	args := append(opts, "-p", fmt.Sprintf("%d:8080", public), netImage())
	runDetached(t, e, name, append(args, p.args("-accept", "8080", "-only", attacks)...)...)
	waitLogLine(t, e, name, "listening")
	addr := netip.AddrPortFrom(p.ip, uint16(public)).String()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: p.ip.AsSlice()}}
	before := p.secret.clients.Load()
	// One client per attack, each held until the probe is done with it.
	deadline := time.Now().Add(60 * time.Second)
	for range strings.Count(attacks, ",") + 1 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			if wantReach {
				// A host socket re-aimed under the client resets it.
				continue
			}
			t.Fatalf("connect to the published port %s: %v", addr, err)
		}
		c.SetDeadline(deadline)
		var b [1]byte
		c.Read(b[:]) // until the probe closes or re-aims it
		c.Close()
	}
	out := waitLogLine(t, e, name, "done")
	if !wantReach {
		// The accepted socket is the container's: dual-stack, so a v4
		// client shows as v4-mapped.
		p.assertConfined(t, out, before)
		return
	}
	m := probeLines(out)
	reached := false
	for _, a := range []string{"reconnect", "reconnect-v4mapped"} {
		for _, l := range m[a] {
			reached = reached || strings.HasPrefix(l, "reached hello ")
		}
	}
	if !reached || p.secret.clients.Load() == before {
		t.Errorf("%s\nwith accept_bypass=true the probe must reach the host's loopback through an accepted host socket (the option is --network host for TCP); it did not, so the probe proves nothing", out)
	}
}

// fdPassCase has the container's process hand its socket over a unix
// socket to a process `lodger exec` started, which no connect filter
// watches, and that process reconnects it.
func (p *probeSetup) fdPassCase(t *testing.T, name string, opts []string, wantReach bool) {
	t.Helper()
	e := shared
	runDetached(t, e, name, append(append(opts, netImage()), p.args("-sendfd", "/tmp/fd.sock")...)...)
	waitLogLine(t, e, name, "waiting")
	before := p.secret.clients.Load()
	r := e.lodger(t, append([]string{"exec", name}, p.args("-recvfd", "/tmp/fd.sock")...)...)
	wantCode(t, r, 0)
	m := probeLines(r.stdout)
	got := m["recvfd"]
	switch {
	case len(got) != 1:
		t.Fatalf("%s\nwant one recvfd report", r)
	case wantReach && (!strings.HasPrefix(got[0], "reached hello ") || p.secret.clients.Load() == before):
		t.Errorf("%s\nwith bypass=true the handed-on host socket must reach the host's loopback; it did not, so the probe proves nothing", r)
	case !wantReach && (!strings.HasPrefix(got[0], "refused") || p.secret.clients.Load() != before):
		t.Errorf("%s\nthe handed-on socket reached the host's loopback", r)
	}
	if !wantReach && !strings.Contains(r.stdout, "received 10.0.2.100:") {
		t.Errorf("%s\nwant the container's own socket (10.0.2.100) handed on", r)
	}
}

// waitLogLine polls a detached container's log until a line starts with
// prefix, and returns the whole log.
func waitLogLine(t *testing.T, e *env, name, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := e.lodger(t, "logs", name)
		for _, l := range lines(r.stdout) {
			if strings.HasPrefix(l, prefix) {
				return r.stdout
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s\nno line starting %q in %s's log within 60s", r, prefix, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isAddrInUse says whether err is EADDRINUSE.
func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
