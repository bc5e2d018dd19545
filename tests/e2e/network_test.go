//go:build e2e

package e2e

// The network tests drive lodger's userspace network (--network netstack,
// the default) with tests/nettool inside the image lodger-test/net. They
// need a non-loopback IPv4 address on the host and, for the DNS test, the
// line tests/e2e/run.sh adds to /etc/hosts as root.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The container side of the default network, as the issue specifies it.
const (
	ctrIPv4     = "10.0.2.100/24"
	ctrGateway  = "10.0.2.2"
	ctrDNS      = "10.0.2.3"
	ctrIPv6     = "fd4c:6f64:6765::100/64"
	ctrGateway6 = "fd4c:6f64:6765::2"
	defaultMTU  = 65520
	// hostsName is in the host's /etc/hosts only (run.sh puts it there).
	hostsName = "lodger-e2e-hosts.test"
	// hostLoopbackName is in the container's /etc/hosts with
	// allow_host_loopback=true.
	hostLoopbackName = "host.lodger.internal"
)

func netImage() string { return ref("net:latest") }

// hostIPv4 is the host's first non-loopback IPv4 address on an interface
// that is up: where the tests' servers listen for the containers.
func hostIPv4(t *testing.T) netip.Addr {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
					return ip.Unmap()
				}
			}
		}
	}
	t.Fatal("the host has no non-loopback IPv4 address: the network tests need one to reach the host from a container")
	return netip.Addr{}
}

// hostIPv6 returns a global IPv6 address of the host when it also has a
// default IPv6 route: the condition under which containers get IPv6.
func hostIPv6() (netip.Addr, bool) {
	b, err := os.ReadFile("/proc/net/ipv6_route")
	if err != nil {
		return netip.Addr{}, false
	}
	routed := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		// destination ::/0 on a real device, up (flag 0x1), not a reject route (0x200)
		if len(f) >= 10 && f[0] == strings.Repeat("0", 32) && f[1] == "00" && f[9] != "lo" {
			if flags, err := strconv.ParseUint(f[8], 16, 32); err == nil && flags&0x1 != 0 && flags&0x200 == 0 {
				routed = true
			}
		}
	}
	if !routed {
		return netip.Addr{}, false
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast() {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// isLocal says whether ip is an address of this host.
func isLocal(t *testing.T, ip netip.Addr) bool {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if got, ok := netip.AddrFromSlice(ipn.IP); ok && got.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// freePort finds a port nothing listens on at ip, for -p.
func freePort(t *testing.T, network string, ip netip.Addr) int {
	t.Helper()
	addr := netip.AddrPortFrom(ip, 0).String()
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// webServer is an HTTP server of the test process.
type webServer struct {
	url   string // http://IP:PORT
	token string // the body of /
	big   []byte // the body of /big
	// huge is the body of /huge: 64 MiB of random bytes, and its
	// sha256 in hex.
	huge       []byte
	hugeDigest string
}

// startWebServer serves a random token at / and a megabyte at /big on ip.
func startWebServer(t *testing.T, ip netip.Addr) *webServer {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	w := &webServer{url: "http://" + l.Addr().String(), token: "token-" + randomHex(8) + "\n", big: make([]byte, 1<<20)}
	for i := range w.big {
		w.big[i] = "0123456789abcdef\n"[i%17]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(rw http.ResponseWriter, _ *http.Request) { io.WriteString(rw, w.token) })
	mux.HandleFunc("/big", func(rw http.ResponseWriter, _ *http.Request) { rw.Write(w.big) })
	w.huge = make([]byte, 64<<20)
	rand.Read(w.huge)
	sum := sha256.Sum256(w.huge)
	w.hugeDigest = hex.EncodeToString(sum[:])
	mux.HandleFunc("/huge", func(rw http.ResponseWriter, _ *http.Request) { rw.Write(w.huge) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return w
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// helloServer is a TCP and UDP server of the test process that answers
// like `nettool serve` and counts its clients.
type helloServer struct {
	port    int
	clients atomic.Int64
}

// startHelloServer listens on ip, on one port number for TCP and UDP.
func startHelloServer(t *testing.T, ip netip.Addr) *helloServer {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(port)).String())
		if err != nil {
			l.Close()
			continue
		}
		s := &helloServer{port: port}
		go s.serveTCP(l)
		go s.serveUDP(pc)
		t.Cleanup(func() { l.Close(); pc.Close() })
		return s
	}
	t.Fatalf("no port free for both TCP and UDP on %s", ip)
	return nil
}

// startHelloServerOn listens for TCP on addr itself.
func startHelloServerOn(t *testing.T, addr netip.AddrPort) *helloServer {
	t.Helper()
	l, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	s := &helloServer{port: int(addr.Port())}
	go s.serveTCP(l)
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *helloServer) serveTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.clients.Add(1)
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "hello %s\n", c.RemoteAddr())
			io.Copy(io.Discard, c)
		}()
	}
}

func (s *helloServer) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.clients.Add(1)
		pc.WriteTo([]byte("hello "+from.String()+"\n"), from)
	}
}

// sayHello connects to addr from local (any address if invalid), sends a
// line and returns the first line of the reply, as `nettool dial` does.
func sayHello(network string, local netip.Addr, addr string) (reply string, localAddr string, err error) {
	return sayHelloFrom(network, netip.AddrPortFrom(local, 0), local.IsValid(), addr)
}

// sayHelloFrom is sayHello from the local address and port local, when
// bind says so (port 0: one the kernel picks).
func sayHelloFrom(network string, local netip.AddrPort, bind bool, addr string) (reply string, localAddr string, err error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if bind {
		if network == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(local)
		} else {
			d.LocalAddr = net.TCPAddrFromAddrPort(local)
		}
	}
	c, err := d.Dial(network, addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	localAddr = c.LocalAddr().String()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hello from the host\n"); err != nil {
		return "", localAddr, err
	}
	if network == "udp" {
		buf := make([]byte, 64<<10)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		return string(buf[:n]), localAddr, err
	}
	reply, err = bufio.NewReader(c).ReadString('\n')
	return reply, localAddr, err
}

// waitHello retries sayHello until the server in the container answers:
// a published port may be open on the host before the server listens.
func waitHello(t *testing.T, network, addr string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		reply, _, err := sayHello(network, netip.Addr{}, addr)
		if err == nil && strings.HasPrefix(reply, "hello ") {
			return reply
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: no hello from the container's server within 60s: reply %q, %v", network, addr, reply, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runDetached starts a container with `run -d` and removes it when t
// ends.
func runDetached(t *testing.T, e *env, name string, args ...string) {
	t.Helper()
	r := e.lodger(t, append([]string{"run", "-d", "-q", noTLS, "--name", name}, args...)...)
	wantCode(t, r, 0)
	t.Cleanup(func() { call{env: e}.do("rm", "-f", name) })
}

// ifaceInfo is one interface as `nettool ifaces` prints it.
type ifaceInfo struct {
	mtu   int
	flags []string
	addrs []string
}

// netConfig is the whole output of `nettool ifaces`.
type netConfig struct {
	ifaces map[string]*ifaceInfo
	routes []string // "route default via 10.0.2.2 dev eth0", "route6 ..."
}

func (c netConfig) names() []string {
	var n []string
	for name := range c.ifaces {
		n = append(n, name)
	}
	slices.Sort(n)
	return n
}

func parseIfaces(t *testing.T, r result) netConfig {
	t.Helper()
	wantCode(t, r, 0)
	c := netConfig{ifaces: map[string]*ifaceInfo{}}
	for _, l := range lines(r.stdout) {
		f := strings.Fields(l)
		switch {
		case len(f) == 6 && f[0] == "iface":
			mtu, _ := strconv.Atoi(f[3])
			c.ifaces[f[1]] = &ifaceInfo{mtu: mtu, flags: strings.Split(f[5], "|")}
		case len(f) == 3 && f[0] == "addr" && c.ifaces[f[1]] != nil:
			c.ifaces[f[1]].addrs = append(c.ifaces[f[1]].addrs, f[2])
		case len(f) > 0 && (f[0] == "route" || f[0] == "route6"):
			c.routes = append(c.routes, l)
		default:
			t.Fatalf("%s\nunexpected line %q", r, l)
		}
	}
	return c
}

// TestNetworkInterfaces checks what a container sees of its network: with
// the default userspace stack an eth0 with the documented address, route,
// MTU and DNS server and a working loopback; with none only lo; with host
// the host's interfaces.
func TestNetworkInterfaces(t *testing.T) {
	_, hasIPv6 := hostIPv6()
	checkNetstack := func(t *testing.T, c netConfig, r result, mtu int) {
		t.Helper()
		lo, eth0 := c.ifaces["lo"], c.ifaces["eth0"]
		if lo == nil || !slices.Contains(lo.flags, "up") || !slices.Contains(lo.addrs, "127.0.0.1/8") {
			t.Errorf("%s\nwant lo up with 127.0.0.1/8", r)
		}
		if eth0 == nil {
			t.Fatalf("%s\nwant an interface eth0", r)
		}
		if !slices.Contains(eth0.flags, "up") || !slices.Contains(eth0.addrs, ctrIPv4) {
			t.Errorf("%s\nwant eth0 up with %s", r, ctrIPv4)
		}
		if eth0.mtu != mtu {
			t.Errorf("%s\nwant eth0 mtu %d, got %d", r, mtu, eth0.mtu)
		}
		if want := "route default via " + ctrGateway + " dev eth0"; !slices.Contains(c.routes, want) {
			t.Errorf("%s\nwant %q", r, want)
		}
		want6 := "route6 default via " + ctrGateway6 + " dev eth0"
		if hasIPv6 {
			if !slices.Contains(eth0.addrs, ctrIPv6) {
				t.Errorf("%s\nthe host has IPv6: want eth0 to have %s", r, ctrIPv6)
			}
			if !slices.Contains(c.routes, want6) {
				t.Errorf("%s\nthe host has IPv6: want %q", r, want6)
			}
		} else if slices.Contains(eth0.addrs, ctrIPv6) || slices.Contains(c.routes, want6) {
			// A container given IPv6 the host cannot carry would try it
			// first and wait for every connection to time out.
			t.Errorf("%s\nthe host has no IPv6 default route: want no %s and no %q", r, ctrIPv6, want6)
		}
	}

	t.Run("default is netstack", func(t *testing.T) {
		r := runRm(t, netImage(), "nettool", "ifaces")
		checkNetstack(t, parseIfaces(t, r), r, defaultMTU)
	})
	t.Run("explicit netstack", func(t *testing.T) {
		r := runRm(t, "--network", "netstack", netImage(), "nettool", "ifaces")
		checkNetstack(t, parseIfaces(t, r), r, defaultMTU)
	})
	t.Run("mtu option", func(t *testing.T) {
		r := runRm(t, "--network", "netstack:mtu=1500", netImage(), "nettool", "ifaces")
		checkNetstack(t, parseIfaces(t, r), r, 1500)
	})
	t.Run("resolv.conf names the stack's DNS server", func(t *testing.T) {
		r := runRm(t, netImage(), "cat", "/etc/resolv.conf")
		wantCode(t, r, 0)
		var servers []string
		for _, l := range lines(r.stdout) {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
				servers = append(servers, f[1])
			}
		}
		if len(servers) == 0 || servers[0] != ctrDNS {
			t.Errorf("%s\nwant the first nameserver to be %s", r, ctrDNS)
		}
	})
	t.Run("loopback works", func(t *testing.T) {
		r := runRm(t, netImage(), "sh", "-c", "nettool serve tcp 7777 -n 1 >/dev/null & "+
			// Dialled until the server listens, which a loaded machine may delay.
			"i=0; until nettool dial tcp 127.0.0.1:7777 2>/tmp/err; do i=$((i+1)); [ $i -lt 300 ] || { cat /tmp/err >&2; exit 1; }; sleep 0.1; done")
		wantCode(t, r, 0)
		if !strings.HasPrefix(r.stdout, "hello 127.0.0.1:") {
			t.Errorf("%s\nwant a hello through the container's loopback", r)
		}
	})
	t.Run("none", func(t *testing.T) {
		r := runRm(t, "--network", "none", netImage(), "nettool", "ifaces")
		c := parseIfaces(t, r)
		if got := c.names(); !slices.Equal(got, []string{"lo"}) {
			t.Errorf("%s\nwant only lo, got %q", r, got)
		}
		for _, rt := range c.routes {
			if strings.Contains(rt, "default") {
				t.Errorf("%s\nwant no default route, got %q", r, rt)
			}
		}
	})
	t.Run("host", func(t *testing.T) {
		r := runRm(t, "--network", "host", netImage(), "nettool", "ifaces")
		c := parseIfaces(t, r)
		hostIfs, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ifi := range hostIfs {
			want = append(want, ifi.Name)
		}
		slices.Sort(want)
		if got := c.names(); !slices.Equal(got, want) {
			t.Errorf("%s\nwant the host's interfaces %q, got %q", r, want, got)
		}
		ip := hostIPv4(t).String()
		if !strings.Contains(r.stdout, " "+ip+"/") {
			t.Errorf("%s\nwant the host's address %s", r, ip)
		}
	})
}

// TestNetworkOutbound fetches from servers of the test process on the
// host's non-loopback address, at the default MTU and at 1500. The bulk
// transfers check that their bytes came through the container's eth0, so
// through the userspace stack, and one checks that the opt-in bypass
// takes them around it.
func TestNetworkOutbound(t *testing.T) {
	ip := hostIPv4(t)
	web := startWebServer(t, ip)
	t.Run("http", func(t *testing.T) {
		wantStdout(t, runRm(t, netImage(), "nettool", "get", web.url+"/"), web.token)
	})
	// fetch gets path and prints its sha256 and how many bytes eth0
	// received meanwhile.
	fetch := func(t *testing.T, opts []string, path string) (digest string, rx int64) {
		t.Helper()
		script := "a=$(cat /sys/class/net/eth0/statistics/rx_bytes); nettool get " + web.url + path + " | sha256sum; b=$(cat /sys/class/net/eth0/statistics/rx_bytes); echo rx $((b-a))"
		r := runRm(t, append(slices.Clone(opts), netImage(), "sh", "-c", script)...)
		wantCode(t, r, 0)
		var err error
		for _, l := range lines(r.stdout) {
			if n, ok := strings.CutPrefix(l, "rx "); ok {
				rx, err = strconv.ParseInt(n, 10, 64)
			} else if f := strings.Fields(l); len(f) == 2 && f[1] == "-" {
				digest = f[0]
			}
		}
		if digest == "" || err != nil {
			t.Fatalf("%s\nwant a digest and a byte count", r)
		}
		return digest, rx
	}
	bigSum := sha256.Sum256(web.big)
	for _, tc := range []struct {
		name, path, digest string
		size               int
		opts               []string
	}{
		{"a megabyte at the default mtu", "/big", hex.EncodeToString(bigSum[:]), len(web.big), nil},
		{"a megabyte at mtu 1500", "/big", hex.EncodeToString(bigSum[:]), len(web.big), []string{"--network", "netstack:mtu=1500"}},
		{"64 MiB at the default mtu", "/huge", web.hugeDigest, len(web.huge), nil},
		{"64 MiB at mtu 1500", "/huge", web.hugeDigest, len(web.huge), []string{"--network", "netstack:mtu=1500"}},
	} {
		t.Run(tc.name+" through the stack", func(t *testing.T) {
			digest, rx := fetch(t, tc.opts, tc.path)
			if digest != tc.digest {
				t.Errorf("sha256 of what the container got %s, want %s", digest, tc.digest)
			}
			if rx < int64(tc.size) {
				t.Errorf("the container's eth0 received %d bytes while it fetched %d: want them through the stack", rx, tc.size)
			}
		})
	}
	t.Run("64 MiB through the opt-in bypass", func(t *testing.T) {
		digest, rx := fetch(t, bypassOn, "/huge")
		if digest != web.hugeDigest {
			t.Errorf("sha256 of what the container got %s, want %s", digest, web.hugeDigest)
		}
		if rx > int64(len(web.huge))/8 {
			t.Errorf("the container's eth0 received %d bytes of the %d: want the bypass's host socket to carry them", rx, len(web.huge))
		}
	})
	t.Run("udp", func(t *testing.T) {
		hello := startHelloServer(t, ip)
		r := runRm(t, netImage(), "nettool", "dial", "udp", netip.AddrPortFrom(ip, uint16(hello.port)).String())
		wantCode(t, r, 0)
		if !strings.HasPrefix(r.stdout, "hello ") {
			t.Errorf("%s\nwant the host server's hello", r)
		}
	})
	t.Run("ipv6", func(t *testing.T) {
		ip6, ok := hostIPv6()
		if !ok {
			// Without IPv6 on the host the container has none either:
			// an IPv6 destination fails at once instead of hanging.
			r := runRm(t, netImage(), "nettool", "get", "-timeout", "5s", "http://[2001:db8::1]/")
			if r.code == 0 || !strings.Contains(r.stderr, "unreachable") {
				t.Errorf("%s\nthe host has no IPv6: want the fetch to fail with network unreachable", r)
			}
			return
		}
		if netip.MustParsePrefix(ctrIPv6).Masked().Contains(ip6) {
			t.Fatalf("the host's address %s is inside the containers' own prefix %s: containers cannot reach it", ip6, ctrIPv6)
		}
		web6 := startWebServer(t, ip6)
		wantStdout(t, runRm(t, netImage(), "nettool", "get", web6.url+"/"), web6.token)
	})
	t.Run("ping", func(t *testing.T) {
		if !pingAllowed() {
			// tests/e2e/run.sh, run as root, opens the range for the
			// test user's group; only a hand-made setup lacks it.
			if os.Getenv("LODGER_TEST_ROOT_SETUP") == "1" {
				t.Fatalf("net.ipv4.ping_group_range does not include gid %d although run.sh set the machine up", os.Getgid())
			}
			t.Skipf("net.ipv4.ping_group_range does not include gid %d: lodger cannot send ICMP echo for containers here (run tests/e2e/run.sh as root to set it)", os.Getgid())
		}
		r := runRm(t, netImage(), "nettool", "ping", ip.String())
		wantCode(t, r, 0)
		if !strings.HasPrefix(r.stdout, "reply from "+ip.String()+" ") {
			t.Errorf("%s\nwant an echo reply from %s", r, ip)
		}
	})
}

// pingAllowed says whether unprivileged ICMP sockets are open to our
// group.
func pingAllowed() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	gid := os.Getgid()
	return err1 == nil && err2 == nil && lo <= gid && gid <= hi
}

// TestNetworkTeardownLeavesNothing: a foreground run hands its TAP to
// lodger-linger, which closes it after lodger has exited (the kernel's
// teardown of the device then costs the user's shell nothing). Under a
// subreaper (tests/e2e/subreaper_test.go) the test adopts what lodger
// left behind when it exited: exactly that helper, gone (reaped) well
// within 5 s, and nothing else. It found each run starting two helpers:
// the link was closed twice.
func TestNetworkTeardownLeavesNothing(t *testing.T) {
	e := isolatedEnv(t)
	// The session keeper, which the first command starts, is not what
	// this test is about.
	e.pull(t, netImage(), noTLS)
	for i := range 3 {
		rep := e.underSubreaper(t, "run", "--rm", "-q", netImage(), "true")
		if rep.Code != 0 {
			t.Fatalf("run %d: %+v\nwant exit 0", i+1, rep)
		}
		if len(rep.Left) > 0 {
			t.Errorf("run %d: %q still running 5 s after lodger ended", i+1, rep.Left)
		}
		// The helper outlives lodger only by the device's teardown, so
		// the subreaper sees it alive or not, but always reaps it: one,
		// and nothing else.
		if len(rep.Reaped) != 1 || rep.Reaped[0] != "lodger-linger" {
			t.Errorf("run %d: %+v\nwant exactly one process left behind, lodger-linger, and reaped", i+1, rep)
		}
		for _, n := range rep.Names {
			if n != "lodger-linger" {
				t.Errorf("run %d: lodger left %q behind, want only lodger-linger", i+1, n)
			}
		}
	}
}

// TestNetworkDNS resolves a name that only the host's /etc/hosts knows.
func TestNetworkDNS(t *testing.T) {
	want := hostsEntry(t, hostsName)
	r := runRm(t, netImage(), "nettool", "resolve", hostsName)
	wantCode(t, r, 0)
	if !slices.Contains(lines(r.stdout), want) {
		t.Errorf("%s\nwant %s, as the host's /etc/hosts says", r, want)
	}
}

// hostsEntry is the address the host's /etc/hosts gives name.
func hostsEntry(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "#")
		f := strings.Fields(l)
		if len(f) >= 2 && slices.Contains(f[1:], name) {
			return f[0]
		}
	}
	t.Fatalf("/etc/hosts has no %s: tests/e2e/run.sh adds it when run as root", name)
	return ""
}

// dialScript dials each target from inside a container and prints one
// line per target: "NETWORK TARGET ok REPLY" or "NETWORK TARGET fail ERROR".
func dialScript(targets [][2]string) string {
	var b strings.Builder
	b.WriteString(`p() { if out=$(nettool dial -timeout 3s "$1" "$2" 2>&1); then echo "$1 $2 ok $out"; else echo "$1 $2 fail $out"; fi; }` + "\n")
	for _, tg := range targets {
		fmt.Fprintf(&b, "p %s '%s'\n", tg[0], tg[1]) // quoted: [::1]:80 is a glob
	}
	return b.String()
}

// dialResults maps "NETWORK TARGET" to the rest of its line.
func dialResults(t *testing.T, r result) map[string]string {
	t.Helper()
	wantCode(t, r, 0)
	out := map[string]string{}
	for _, l := range lines(r.stdout) {
		f := strings.SplitN(l, " ", 3)
		if len(f) == 3 {
			out[f[0]+" "+f[1]] = f[2]
		}
	}
	return out
}

// TestNetworkHostLoopback checks that a server on the host's loopback is
// out of a container's reach by default, by every address that could lead
// there, and within reach through the gateway and host.lodger.internal
// with allow_host_loopback=true.
func TestNetworkHostLoopback(t *testing.T) {
	loop := startHelloServer(t, netip.MustParseAddr("127.0.0.1"))
	public := startHelloServer(t, hostIPv4(t))
	port := strconv.Itoa(loop.port)
	control := [2]string{"tcp", netip.AddrPortFrom(hostIPv4(t), uint16(public.port)).String()}

	t.Run("unreachable by default", func(t *testing.T) {
		var targets [][2]string
		for _, a := range []string{ctrGateway, ctrDNS, "127.0.0.1", "0.0.0.0", "169.254.169.254", "[::ffff:127.0.0.1]", "[::ffff:" + ctrGateway + "]", "[::1]", hostLoopbackName} {
			targets = append(targets, [2]string{"tcp", a + ":" + port})
		}
		targets = append(targets, [2]string{"udp", ctrGateway + ":" + port}, [2]string{"udp", ctrDNS + ":" + port})
		r := runRm(t, netImage(), "sh", "-c", dialScript(append(targets, control)))
		res := dialResults(t, r)
		if got := res[control[0]+" "+control[1]]; !strings.HasPrefix(got, "ok hello ") {
			t.Fatalf("%s\nthe control: want the host's public server to answer, got %q", r, got)
		}
		for _, tg := range targets {
			got, ok := res[tg[0]+" "+tg[1]]
			if !ok || !strings.HasPrefix(got, "fail ") {
				t.Errorf("%s %s from the container: %q, want a failure: the host's loopback must be out of reach", tg[0], tg[1], got)
			}
		}
		if n := loop.clients.Load(); n != 0 {
			t.Errorf("the server on the host's 127.0.0.1 got %d clients from the container, want none", n)
		}
	})

	t.Run("allow_host_loopback", func(t *testing.T) {
		targets := [][2]string{
			{"tcp", ctrGateway + ":" + port},
			{"tcp", hostLoopbackName + ":" + port},
			{"udp", ctrGateway + ":" + port},
		}
		r := runRm(t, "--network", "netstack:allow_host_loopback=true", netImage(), "sh", "-c",
			"grep -w "+hostLoopbackName+" /etc/hosts || echo no "+hostLoopbackName+" in /etc/hosts\n"+dialScript(targets))
		res := dialResults(t, r)
		if !regexp.MustCompile(`(?m)^\S+\s.*\b` + regexp.QuoteMeta(hostLoopbackName) + `\b`).MatchString(r.stdout) {
			t.Errorf("%s\nwant %s in the container's /etc/hosts", r, hostLoopbackName)
		}
		for _, tg := range targets {
			if got := res[tg[0]+" "+tg[1]]; !strings.HasPrefix(got, "ok hello 127.0.0.1:") {
				t.Errorf("%s %s from the container: %q, want the hello of the server on the host's 127.0.0.1", tg[0], tg[1], got)
			}
		}
	})
}

// servers runs nettool's TCP server on 8080 and its UDP server on 9090.
var servers = []string{"sh", "-c", "nettool serve udp 9090 & exec nettool serve tcp 8080"}

// TestNetworkPublish reaches servers in a container through published
// ports, from the host's loopback and from its public address, and checks
// that the servers see the true client address.
func TestNetworkPublish(t *testing.T) {
	e := shared
	ip := hostIPv4(t)
	any4 := netip.IPv4Unspecified()
	tcpPort, udpPort := freePort(t, "tcp", any4), freePort(t, "udp", any4)
	runDetached(t, e, "net-pub", append([]string{"-p", fmt.Sprintf("%d:8080", tcpPort), "-p", fmt.Sprintf("%d:9090/udp", udpPort), netImage()}, servers...)...)
	loopTCP := fmt.Sprintf("127.0.0.1:%d", tcpPort)
	waitHello(t, "tcp", loopTCP)
	waitHello(t, "udp", fmt.Sprintf("127.0.0.1:%d", udpPort))

	for _, proto := range []struct {
		network string
		port    int
	}{{"tcp", tcpPort}, {"udp", udpPort}} {
		t.Run(proto.network+" from the host's loopback", func(t *testing.T) {
			reply, _, err := sayHello(proto.network, netip.Addr{}, fmt.Sprintf("127.0.0.1:%d", proto.port))
			if err != nil {
				t.Fatal(err)
			}
			// A loopback client cannot appear as itself in the container;
			// it comes from the gateway.
			if !strings.HasPrefix(reply, "hello "+ctrGateway+":") {
				t.Errorf("reply %q, want the server to see the gateway %s", reply, ctrGateway)
			}
		})
		t.Run(proto.network+" from the host's address", func(t *testing.T) {
			reply, local, err := sayHello(proto.network, ip, netip.AddrPortFrom(ip, uint16(proto.port)).String())
			if err != nil {
				t.Fatal(err)
			}
			if want := "hello " + local + "\n"; reply != want {
				t.Errorf("reply %q, want %q: the server must see the true client address", reply, want)
			}
			eventually(t, "the server's log to show client "+local, func() bool {
				return slices.Contains(lines(e.lodger(t, "logs", "net-pub").stdout), "client "+local)
			})
		})
	}

	// A published TCP connection is carried by the kernels: it reaches
	// the server over the container's loopback, never through eth0 and
	// the stack behind it.
	t.Run("tcp carried by the kernel, not the stack", func(t *testing.T) {
		lo0, eth0 := rxBytes(t, e, "net-pub", "lo"), rxBytes(t, e, "net-pub", "eth0")
		const size = 8 << 20
		sendToHello(t, net.Dialer{}, loopTCP, size)
		eventually(t, fmt.Sprintf("%d bytes to arrive over the container's lo", size), func() bool {
			return rxBytes(t, e, "net-pub", "lo")-lo0 >= size
		})
		if grew := rxBytes(t, e, "net-pub", "eth0") - eth0; grew > size/8 {
			t.Errorf("eth0 received %d bytes during the transfer: the connection went through the stack", grew)
		}
	})

	t.Run("published on loopback only", func(t *testing.T) {
		port := freePort(t, "tcp", any4)
		runDetached(t, e, "net-publo", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), netImage(), "nettool", "serve", "tcp", "8080")
		waitHello(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if reply, _, err := sayHello("tcp", ip, netip.AddrPortFrom(ip, uint16(port)).String()); err == nil {
			t.Errorf("port %d published on 127.0.0.1 answered on %s: %q", port, ip, reply)
		}
	})
}

// sendToHello connects with d to a nettool hello server at addr, reads
// its greeting, sends size bytes and closes.
func sendToHello(t *testing.T, d net.Dialer, addr string, size int) {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatalf("send %d bytes: %v", size, err)
	}
	// The server reads to the end, then closes: once it has, every byte
	// has crossed whatever path it took, and the counters are final.
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("wait for the server to take %d bytes: %v", size, err)
	}
}

// rxBytes is what the container's interface dev has received so far.
func rxBytes(t *testing.T, e *env, ctr, dev string) int64 {
	t.Helper()
	r := e.lodger(t, "exec", ctr, "cat", "/sys/class/net/"+dev+"/statistics/rx_bytes")
	n, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		t.Fatalf("%s\nwant a byte count", r)
	}
	return n
}

// portLineRE is a line of `lodger port CTR`, in Docker's format.
var portLineRE = regexp.MustCompile(`^(\d+)/(tcp|udp) -> (\S+):(\d+)$`)

// TestNetworkPublishAll publishes the image's EXPOSE'd ports with -P and
// finds them with `lodger port`.
func TestNetworkPublishAll(t *testing.T) {
	e := shared
	runDetached(t, e, "net-all", append([]string{"-P", netImage()}, servers...)...)
	r := e.lodger(t, "port", "net-all")
	wantCode(t, r, 0)
	hostPorts := map[string]int{}
	for _, l := range lines(r.stdout) {
		m := portLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("%s\nline %q: want CTRPORT/PROTO -> IP:PORT", r, l)
		}
		if m[3] == "0.0.0.0" {
			hostPorts[m[1]+"/"+m[2]], _ = strconv.Atoi(m[4])
		}
	}
	for _, p := range []string{"8080/tcp", "9090/udp"} {
		if hostPorts[p] == 0 {
			t.Fatalf("%s\nwant a line %q: -P publishes the image's EXPOSE on every address", r, p+" -> 0.0.0.0:PORT")
		}
	}
	r = e.lodger(t, "port", "net-all", "8080/tcp")
	wantCode(t, r, 0)
	if got := lines(r.stdout); len(got) == 0 || got[0] != fmt.Sprintf("0.0.0.0:%d", hostPorts["8080/tcp"]) {
		t.Errorf("%s\nwant 0.0.0.0:%d first", r, hostPorts["8080/tcp"])
	}
	waitHello(t, "tcp", fmt.Sprintf("127.0.0.1:%d", hostPorts["8080/tcp"]))
	waitHello(t, "udp", fmt.Sprintf("127.0.0.1:%d", hostPorts["9090/udp"]))
}

// TestNetworkPublishErrors checks the errors of ports that cannot be
// published: each fails before anything runs and leaves nothing behind.
func TestNetworkPublishErrors(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, netImage(), noTLS)
	run := func(t *testing.T, publish string) result {
		t.Helper()
		return e.lodger(t, "run", "-d", "-q", noTLS, "--name", "refused", "-p", publish, netImage(), "nettool", "serve", "tcp", "8080")
	}

	t.Run("tcp port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		wantError(t, run(t, "127.0.0.1:"+port+":8080"), 125, port)
		wantNothingLeft(t, e)
	})
	t.Run("udp port in use", func(t *testing.T) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		port := strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
		wantError(t, run(t, "127.0.0.1:"+port+":9090/udp"), 125, port)
		wantNothingLeft(t, e)
	})
	t.Run("privileged port", func(t *testing.T) {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
		if err != nil {
			t.Fatal(err)
		}
		start, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if start == 0 {
			// Every port is open to unprivileged users here: a low port
			// must then be published, not refused by lodger.
			low := 0
			for p := 1023; p > 0 && low == 0; p-- {
				if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
					l.Close()
					low = p
				}
			}
			if low == 0 {
				t.Fatal("no free port below 1024 on 127.0.0.1")
			}
			wantCode(t, run(t, fmt.Sprintf("127.0.0.1:%d:8080", low)), 0)
			wantCode(t, e.lodger(t, "rm", "-f", "refused"), 0)
			return
		}
		port := strconv.Itoa(start - 1)
		wantError(t, run(t, port+":8080"), 125, port, "ip_unprivileged_port_start")
		wantNothingLeft(t, e)
	})
	t.Run("address not of this host", func(t *testing.T) {
		foreign := netip.MustParseAddr("198.51.100.1") // TEST-NET-2
		if isLocal(t, foreign) {
			t.Fatalf("%s is an address of this host; pick another", foreign)
		}
		port := freePort(t, "tcp", netip.IPv4Unspecified())
		wantError(t, run(t, fmt.Sprintf("%s:%d:8080", foreign, port)), 125, foreign.String())
		wantNothingLeft(t, e)
	})
}

// TestNetworkConnectionsDoNotLeak pushes 10,000 short connections through
// a published port and checks that the process holding the container's
// network stack, the monitor, ends with no more descriptors and threads
// than it had before.
func TestNetworkConnectionsDoNotLeak(t *testing.T) {
	const (
		warmUp  = 500
		total   = 10000
		workers = 8
		slack   = 5
	)
	e := shared
	port := freePort(t, "tcp", netip.IPv4Unspecified())
	ip := hostIPv4(t)
	// Half the clients come from the host's loopback (shown to the
	// server as the gateway), half from the host's address (as
	// themselves); both are carried by the kernels over the container's
	// loopback.
	targets := []churnTarget{
		{netip.Addr{}, fmt.Sprintf("127.0.0.1:%d", port)},
		{ip, netip.AddrPortFrom(ip, uint16(port)).String()},
	}
	addr := targets[0].addr
	runDetached(t, e, "net-churn", "-p", fmt.Sprintf("%d:8080", port), netImage(), "nettool", "serve", "tcp", "8080", "-quiet")
	waitHello(t, "tcp", addr)
	r := e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", "net-churn")
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s\nwant the monitor's pid", r)
	}

	// The warm-up brings the Go runtime of the monitor to its working set
	// of threads and buffers, so what follows measures only leaks.
	if err := churn(targets, warmUp, workers); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	fds0, threads0 := settledCounts(t, pid)

	start := time.Now()
	if err := churn(targets, total, workers); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d connections in %s (%.0f/s); monitor before: %d fds, %d threads", total, took.Round(time.Millisecond), total/took.Seconds(), fds0, threads0)

	fds, threads, ok := eventuallyCounts(t, pid, fds0, threads0, slack)
	if !ok {
		t.Errorf("60s after %d connections closed the monitor holds %d fds and %d threads, before %d and %d (slack %d)", total, fds, threads, fds0, threads0, slack)
	}
	t.Logf("monitor after: %d fds, %d threads", fds, threads)

	// SIGTERM makes the server print how many clients it had: all of them
	// went through to the container.
	wantCode(t, e.lodger(t, "stop", "-t", "10", "net-churn"), 0)
	r = e.lodger(t, "logs", "net-churn")
	m := regexp.MustCompile(`(?m)^served (\d+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("%s\nwant the server's count", r)
	}
	if n, _ := strconv.Atoi(m[1]); n < warmUp+total {
		t.Errorf("the server in the container saw %d clients, want at least %d", n, warmUp+total)
	}
}

// churnTarget is where churn connects, and from which local address.
type churnTarget struct {
	local netip.Addr
	addr  string
}

// churn makes n short connections to the targets in turn, workers at a
// time, each one a hello and a close, and fails on the first that does
// not get its hello.
func churn(targets []churnTarget, n, workers int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var next atomic.Int64
	var failures atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				to := targets[int(i)%len(targets)]
				reply, _, err := sayHello("tcp", to.local, to.addr)
				if err == nil && !strings.HasPrefix(reply, "hello ") {
					err = fmt.Errorf("reply %q", reply)
				}
				if err != nil {
					failures.Add(1)
					once.Do(func() { firstErr = err })
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("connection %d of %d through %v: %w", next.Load(), n, targets, firstErr)
	}
	return nil
}

// procCounts counts a process's open descriptors and threads.
func procCounts(t *testing.T, pid int) (fds, threads int) {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("count the monitor's descriptors: %v", err)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatalf("count the monitor's threads: %v", err)
	}
	return len(ents), len(tasks)
}

// settledCounts waits until the monitor's fds and threads stop falling
// (the connections of a warm-up close asynchronously) and returns them:
// the baseline a leak check compares with.
func settledCounts(t *testing.T, pid int) (fds, threads int) {
	t.Helper()
	fds, threads = procCounts(t, pid)
	deadline := time.Now().Add(10 * time.Second)
	for stable := 0; stable < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		f, th := procCounts(t, pid)
		if f < fds || th < threads {
			stable = 0
		} else {
			stable++
		}
		fds, threads = min(fds, f), min(threads, th)
	}
	return fds, threads
}

// eventuallyCounts waits up to 60 s for the monitor's fds and threads to
// come back within slack of a baseline, and returns the last counts.
func eventuallyCounts(t *testing.T, pid, fds0, threads0, slack int) (fds, threads int, ok bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		fds, threads = procCounts(t, pid)
		if fds <= fds0+slack && threads <= threads0+slack {
			return fds, threads, true
		}
		if time.Now().After(deadline) {
			return fds, threads, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNetworkHostileFrames floods a container's link with malformed frames
// from inside and checks that its network, and another container's, still
// work.
func TestNetworkHostileFrames(t *testing.T) {
	e := shared
	web := startWebServer(t, hostIPv4(t))
	runDetached(t, e, "net-hostile", netImage(), "sleep", "600")
	runDetached(t, e, "net-bystander", netImage(), "sleep", "600")
	fetch := func(t *testing.T, ctr string) {
		t.Helper()
		wantStdout(t, e.lodger(t, "exec", ctr, "nettool", "get", web.url+"/"), web.token)
	}
	fetch(t, "net-hostile")
	fetch(t, "net-bystander")

	const frames = 5000
	r := e.lodger(t, "exec", "net-hostile", "nettool", "garbage", "eth0", strconv.Itoa(frames))
	wantCode(t, r, 0)
	t.Logf("%s", r.stdout)
	m := regexp.MustCompile(`(?m)^sent (\d+) of`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("%s\nwant nettool's count of frames sent", r)
	}
	if sent, _ := strconv.Atoi(m[1]); sent < frames/2 {
		t.Fatalf("%s\nwant most of the %d frames sent: the kernel refused the rest before the stack saw them", r, frames)
	}

	fetch(t, "net-hostile")
	fetch(t, "net-bystander")
	wantStdout(t, runRm(t, netImage(), "nettool", "get", web.url+"/"), web.token)
	for _, ctr := range []string{"net-hostile", "net-bystander"} {
		if row, ok := e.ps(t, ctr); !ok || row.State != "running" {
			t.Errorf("%s after the hostile frames: %+v, want running", ctr, row)
		}
	}
}

// connectResult is what `nettool connect` printed: the container's
// socket address after the connect and the server's hello, or the errno.
type connectResult struct {
	local, hello, errno, socket string
}

func parseConnect(r result) connectResult {
	var c connectResult
	for _, l := range lines(r.stdout) {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "local":
			c.local = v
		case "hello":
			c.hello = v
		case "errno":
			c.errno = v
		case "socket":
			c.socket = v
		}
	}
	return c
}

// bypassOn is the opt-in connect bypass: off by default since issue 12,
// because the host socket it hands the container can be re-aimed
// (isolation_test.go shows it can).
var bypassOn = []string{"--network", "netstack:bypass=true"}

// TestNetworkBypass: by default a TCP connect to the host goes through the
// stack (the container's socket is its own, at 10.0.2.100). With the
// opt-in bypass it goes around the stack (the container's socket is a
// host socket, so getsockname shows the host's address, the very one the
// server sees), blocking or not; either way what must not be reached at
// connect is not, refused is refused at once, and from `lodger exec` or
// under a profile that refuses connect, the connection behaves as without
// the bypass.
func TestNetworkBypass(t *testing.T) {
	ip := hostIPv4(t)
	hello := startHelloServer(t, ip)
	target := netip.AddrPortFrom(ip, uint16(hello.port)).String()

	for _, mode := range []string{"non-blocking", "blocking"} {
		t.Run(mode, func(t *testing.T) {
			args := append(slices.Clone(bypassOn), netImage(), "nettool", "connect", target)
			if mode == "blocking" {
				args = append(args, "-block")
			}
			r := runRm(t, args...)
			wantCode(t, r, 0)
			c := parseConnect(r)
			if !strings.HasPrefix(c.local, ip.String()+":") || c.hello != c.local {
				t.Errorf("%s\nwant the container's socket at the host's address %s, as the server saw it (bypassed)", r, ip)
			}
		})
	}
	t.Run("flags and options carried over", func(t *testing.T) {
		for _, tc := range []struct{ flags, want string }{
			{"-setopts", "cloexec=true nonblock=true nodelay=1 keepalive=1 keepidle=77"},
			{"-setopts -block -nocloexec", "cloexec=false nonblock=false nodelay=1 keepalive=1 keepidle=77"},
			{"-block", "cloexec=true nonblock=false nodelay=0 keepalive=0 "},
		} {
			r := runRm(t, append(slices.Clone(bypassOn), netImage(), "sh", "-c", "nettool connect "+tc.flags+" "+target)...)
			wantCode(t, r, 0)
			if c := parseConnect(r); !strings.HasPrefix(c.socket+" ", tc.want) || c.local != c.hello {
				t.Errorf("%s\nwant a bypassed socket with %s", r, tc.want)
			}
		}
	})
	t.Run("v4-mapped", func(t *testing.T) {
		r := runRm(t, append(slices.Clone(bypassOn), netImage(), "nettool", "connect", netip.AddrPortFrom(netip.AddrFrom16(ip.As16()), uint16(hello.port)).String())...)
		wantCode(t, r, 0)
		c := parseConnect(r)
		if _, port, _ := strings.Cut(c.hello, ":"); c.local != "[::ffff:"+ip.String()+"]:"+port {
			t.Errorf("%s\nwant the container's IPv6 socket at the host's address %s, port %s as the server saw it (bypassed)", r, ip, port)
		}
	})
	for _, opts := range [][]string{nil, {"--network", "netstack:bypass=false"}} {
		t.Run("through the stack "+strings.Join(opts, " "), func(t *testing.T) {
			r := runRm(t, append(opts, netImage(), "nettool", "connect", target)...)
			wantCode(t, r, 0)
			if c := parseConnect(r); !strings.HasPrefix(c.local, "10.0.2.100:") || !strings.HasPrefix(c.hello, ip.String()+":") {
				t.Errorf("%s\nwant the connection through the stack, from 10.0.2.100", r)
			}
		})
	}
	t.Run("refused at once", func(t *testing.T) {
		closed := netip.AddrPortFrom(ip, uint16(freePort(t, "tcp", ip))).String()
		for _, block := range []string{"", "-block"} {
			// Timed in the container (whole seconds), without the
			// container's start, which a loaded machine stretches.
			r := runRm(t, append(slices.Clone(bypassOn), netImage(), "sh", "-c",
				"s=$(date +%s); nettool connect -timeout 20s "+block+" "+closed+"; echo exit $? after $(($(date +%s) - s))")...)
			if c := parseConnect(r); c.errno != "ECONNREFUSED" || !strings.Contains(r.stdout, "exit 1 after ") {
				t.Errorf("%s\nwant errno ECONNREFUSED", r)
			}
			secs := -1
			if m := regexp.MustCompile(`exit 1 after (\d+)`).FindStringSubmatch(r.stdout); m != nil {
				secs, _ = strconv.Atoi(m[1])
			}
			if secs < 0 || secs > 5 {
				t.Errorf("%s\nconnect %s to a closed port: want a refusal at once, not after seconds", r, block)
			}
		}
	})
	t.Run("isolation", func(t *testing.T) {
		// One server on the host's loopback and one on its address, on
		// the same port: the same script reaches the second (the
		// control), never the first.
		var loop, open *helloServer
		for range 20 {
			loop = startHelloServer(t, netip.MustParseAddr("127.0.0.1"))
			if l, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(loop.port)).String()); err == nil {
				l.Close()
				break
			}
		}
		port := strconv.Itoa(loop.port)
		script := func(addrs ...string) string {
			var b strings.Builder
			for _, a := range addrs {
				for _, block := range []string{"", "-block"} {
					fmt.Fprintf(&b, "nettool connect -timeout 3s %s '%s:%s'; echo exit $?\n", block, a, port)
				}
			}
			return b.String()
		}
		for _, opts := range [][]string{bypassOn, nil} {
			r := runRm(t, append(slices.Clone(opts), netImage(), "sh", "-c", script(ctrGateway, ctrDNS, "127.0.0.1", "0.0.0.0", "169.254.169.254", "[::ffff:127.0.0.1]", "[::ffff:"+ctrGateway+"]", "[::ffff:0.0.0.0]"))...)
			if strings.Contains(r.stdout, "hello ") || strings.Contains(r.stdout, "exit 0") {
				t.Errorf("%s\nwant every connect refused", r)
			}
		}
		if n := loop.clients.Load(); n != 0 {
			t.Errorf("the server on the host's 127.0.0.1 got %d clients from the container, want none", n)
		}
		// The control: the same connects to the host's address succeed.
		open = startHelloServerOn(t, netip.AddrPortFrom(ip, uint16(loop.port)))
		for _, opts := range [][]string{bypassOn, nil} {
			r := runRm(t, append(slices.Clone(opts), netImage(), "sh", "-c", script(ip.String(), "[::ffff:"+ip.String()+"]"))...)
			if got := strings.Count(r.stdout, "exit 0"); got != 4 {
				t.Errorf("%s\nthe control: want the 4 connects to the host's address %s answered, %d were", r, ip, got)
			}
		}
		if n := open.clients.Load(); n != 8 {
			t.Errorf("the control server on %s got %d clients, want 8", ip, n)
		}
	})
	t.Run("profile refusing connect", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "noconnect.json")
		if err := os.WriteFile(f, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["connect"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opts := range [][]string{bypassOn, nil} {
			r := runRm(t, append(slices.Clone(opts), "--security-opt", "seccomp="+f, netImage(), "nettool", "connect", target)...)
			if c := parseConnect(r); r.code == 0 || c.errno != "EACCES" {
				t.Errorf("%s\nwant the profile's EACCES", r)
			}
		}
	})
	t.Run("detached, and exec takes the stack", func(t *testing.T) {
		e := shared
		runDetached(t, e, "net-bypass", append(slices.Clone(bypassOn), netImage(), "sh", "-c", "nettool connect "+target+"; exec sleep 60")...)
		var c connectResult
		deadline := time.Now().Add(60 * time.Second)
		for c.hello == "" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			c = parseConnect(e.lodger(t, "logs", "net-bypass"))
		}
		if !strings.HasPrefix(c.local, ip.String()+":") || c.hello != c.local {
			t.Errorf("the detached container's connect: %+v, want it bypassed", c)
		}
		r := e.lodger(t, "exec", "net-bypass", "nettool", "connect", target)
		wantCode(t, r, 0)
		if c := parseConnect(r); !strings.HasPrefix(c.local, "10.0.2.100:") {
			t.Errorf("%s\nwant the exec'd process's connection through the stack", r)
		}
	})
	t.Run("the monitor keeps nothing", func(t *testing.T) {
		e := shared
		loop := func(n int) string {
			return fmt.Sprintf("i=0; while [ $i -lt %d ]; do nettool connect -timeout 3s %s >/dev/null || echo failed; i=$((i+1)); done; ", n, target)
		}
		runDetached(t, e, "net-bypass-churn", append(slices.Clone(bypassOn), netImage(), "sh", "-c", loop(50)+"echo warm; sleep 2; "+loop(500)+"echo finished; exec sleep 60")...)
		r := e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", "net-bypass-churn")
		pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
		if err != nil || pid <= 0 {
			t.Fatalf("%s\nwant the monitor's pid", r)
		}
		waitLog := func(word string) string {
			deadline := time.Now().Add(60 * time.Second)
			for {
				r := e.lodger(t, "logs", "net-bypass-churn")
				if strings.Contains(r.stdout, word) {
					return r.stdout
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s\nno %q in the container's log within 60s", r, word)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		waitLog("warm")
		fds0, threads0 := settledCounts(t, pid)
		out := waitLog("finished")
		if strings.Contains(out, "failed") {
			t.Errorf("some of the connections failed:\n%s", out)
		}
		if fds, threads, ok := eventuallyCounts(t, pid, fds0, threads0, 5); !ok {
			t.Errorf("after 500 bypassed connections the monitor holds %d fds and %d threads, before %d and %d", fds, threads, fds0, threads0)
		}
	})
	t.Run("ipv6", func(t *testing.T) {
		ip6, ok := hostIPv6()
		if !ok {
			// The container gets no IPv6: neither path may connect.
			r := runRm(t, netImage(), "nettool", "connect", "[2001:db8::1]:80")
			if c := parseConnect(r); r.code == 0 || c.errno != "ENETUNREACH" {
				t.Errorf("%s\nthe host has no IPv6: want ENETUNREACH", r)
			}
			return
		}
		hello6 := startHelloServer(t, ip6)
		target6 := netip.AddrPortFrom(ip6, uint16(hello6.port)).String()
		r := runRm(t, append(slices.Clone(bypassOn), netImage(), "nettool", "connect", target6)...)
		wantCode(t, r, 0)
		if c := parseConnect(r); c.local != c.hello || !strings.HasPrefix(c.local, "["+ip6.String()+"]:") {
			t.Errorf("%s\nwant a bypassed IPv6 connection from %s", r, ip6)
		}
		r = runRm(t, "--network", "netstack:enable_ipv6=false", netImage(), "nettool", "connect", target6)
		if c := parseConnect(r); r.code == 0 || c.errno != "ENETUNREACH" {
			t.Errorf("%s\nwant no IPv6 for a container without it (ENETUNREACH)", r)
		}
		if n := hello6.clients.Load(); n != 1 {
			t.Errorf("the IPv6 server saw %d clients, want 1", n)
		}
	})
}

// acceptOn is the opt-in accept bypass: off by default since issue 12,
// because the accepted host socket can be re-aimed (isolation_test.go).
var acceptOn = []string{"--network", "netstack:accept_bypass=true"}

// TestNetworkAcceptBypass: with the opt-in accept bypass the server's
// accept gets the host's socket of a published connection, for a server
// that accepts non-blocking (Go's) and one that blocks in accept(2); a
// client the container must see as the gateway, and one inside, still
// reach it as before. By default (and with accept_bypass=false) every
// published connection is carried by the kernels over the container's
// loopback.
func TestNetworkAcceptBypass(t *testing.T) {
	e := shared
	ip := hostIPv4(t)
	for _, mode := range []string{"non-blocking", "blocking"} {
		t.Run(mode, func(t *testing.T) {
			name := "net-accept-" + mode
			port := freePort(t, "tcp", netip.IPv4Unspecified())
			args := append(slices.Clone(acceptOn), "-p", fmt.Sprintf("%d:8080", port), netImage(), "nettool", "serve", "tcp", "8080")
			if mode == "blocking" {
				// Each accept that waits is interrupted by a signal 50 ms
				// after the one before returned, and restarts.
				args = append(args, "-block", "-interrupt", "50ms")
			}
			runDetached(t, e, name, args...)
			public := netip.AddrPortFrom(ip, uint16(port)).String()
			loop := fmt.Sprintf("127.0.0.1:%d", port)

			// The very first client, before the server accepted anything
			// (an epoll server has not called accept yet), is handed
			// over too. Its readiness is seen from inside, without a
			// client.
			waitListening(t, e, name, 8080)
			t.Run("the first client handed over", func(t *testing.T) {
				assertHandedOver(t, e, name, ip, public)
			})

			t.Run("from the host's address", func(t *testing.T) {
				for range 20 {
					helloAsItself(t, ip, public)
					// A blocking server's accept is interrupted and
					// restarted between clients.
					time.Sleep(80 * time.Millisecond)
				}
			})
			t.Run("from the host's loopback, as the gateway", func(t *testing.T) {
				reply, _, err := sayHello("tcp", netip.Addr{}, loop)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(reply, "hello "+ctrGateway+":") {
					t.Errorf("reply %q, want the server to see the gateway %s", reply, ctrGateway)
				}
			})
			t.Run("from inside", func(t *testing.T) {
				r := e.lodger(t, "exec", name, "nettool", "dial", "tcp", "127.0.0.1:8080")
				wantCode(t, r, 0)
				if !strings.HasPrefix(r.stdout, "hello 127.0.0.1:") {
					t.Errorf("%s\nwant the server to greet 127.0.0.1", r)
				}
			})
			// After its accept was interrupted and restarted, a blocking
			// server still gets the host's socket.
			t.Run("handed over", func(t *testing.T) {
				// Not a wait for readiness: the time for the signal
				// (50 ms after the last accept) to interrupt the
				// accept that waits, so that this client meets the
				// restarted one.
				time.Sleep(200 * time.Millisecond)
				assertHandedOver(t, e, name, ip, public)
			})
			t.Run("1000 connections leave nothing in the monitor", func(t *testing.T) {
				r := e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", name)
				pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
				if err != nil || pid <= 0 {
					t.Fatalf("%s\nwant the monitor's pid", r)
				}
				hello := func(n int) {
					for i := range n {
						reply, local, err := sayHello("tcp", ip, public)
						if err != nil || reply != "hello "+local+"\n" {
							t.Fatalf("connection %d: reply %q, %v", i, reply, err)
						}
					}
				}
				hello(100)
				fds0, _ := settledCounts(t, pid)
				start := time.Now()
				hello(1000)
				t.Logf("1000 sequential connections in %s", time.Since(start).Round(time.Millisecond))
				eventually(t, "the monitor's fds to return to their count before", func() bool {
					fds, _ := procCounts(t, pid)
					return fds <= fds0+2
				})
			})
		})
	}

	// A server that runs as another user than root is handed over as
	// well: one started so (most images' USER), and one that dropped to
	// it after listening, as nginx's workers do, which leaves it
	// non-dumpable.
	for _, tc := range []struct {
		name, ctr   string
		user, serve []string // options of run, of nettool serve
	}{
		{"server as a user other than root", "net-accept-user", []string{"--user", "1000:1000"}, nil},
		{"server that dropped root after listening", "net-accept-setuid", nil, []string{"-setuid", "1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t, "tcp", netip.IPv4Unspecified())
			args := append(append(slices.Clone(acceptOn), tc.user...), "-p", fmt.Sprintf("%d:8080", port), netImage(), "nettool", "serve", "tcp", "8080")
			runDetached(t, e, tc.ctr, append(args, tc.serve...)...)
			public := netip.AddrPortFrom(ip, uint16(port)).String()
			waitListening(t, e, tc.ctr, 8080)
			assertHandedOver(t, e, tc.ctr, ip, public)
			helloAsItself(t, ip, public)
		})
	}

	// A server started by `lodger exec` is outside the filter: its accept
	// is never trapped, and its clients are spliced, as themselves.
	t.Run("server outside the filter", func(t *testing.T) {
		name := "net-accept-exec"
		port := freePort(t, "tcp", netip.IPv4Unspecified())
		runDetached(t, e, name, append(slices.Clone(acceptOn), "-p", fmt.Sprintf("%d:8080", port), netImage(), "sleep", "3600")...)
		wantCode(t, e.lodger(t, "exec", "-d", name, "nettool", "serve", "tcp", "8080"), 0)
		public := netip.AddrPortFrom(ip, uint16(port)).String()
		waitHello(t, "tcp", public)
		for range 5 {
			helloAsItself(t, ip, public)
		}
	})

	// By default, and with accept_bypass=false: every published
	// connection is carried by the kernels, over the container's
	// loopback, client address and all.
	for _, tc := range []struct {
		name string
		opts []string
	}{{"default", nil}, {"off", []string{"--network", "netstack:accept_bypass=false"}}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "net-accept-" + tc.name
			port := freePort(t, "tcp", netip.IPv4Unspecified())
			runDetached(t, e, name, append(slices.Clone(tc.opts), "-p", fmt.Sprintf("%d:8080", port), netImage(), "nettool", "serve", "tcp", "8080")...)
			public := netip.AddrPortFrom(ip, uint16(port)).String()
			waitHello(t, "tcp", public)
			helloAsItself(t, ip, public)
			lo0 := rxBytes(t, e, name, "lo")
			const size = 8 << 20
			sendToHello(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}, public, size)
			if got := rxBytes(t, e, name, "lo") - lo0; got < size {
				t.Errorf("the container's lo received %d bytes of the %d sent: want the connection carried over it, not handed over", got, size)
			}
		})
	}
}

// assertHandedOver sends 8 MiB from the host's address ip to the
// container's hello server at public and checks that the connection was
// the host's socket: its bytes crossed neither the container's lo (the
// kernel-carried path) nor eth0 (the stack).
func assertHandedOver(t *testing.T, e *env, name string, ip netip.Addr, public string) {
	t.Helper()
	lo0, eth0 := rxBytes(t, e, name, "lo"), rxBytes(t, e, name, "eth0")
	const size = 8 << 20
	sendToHello(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}, public, size)
	if lo, eth := rxBytes(t, e, name, "lo")-lo0, rxBytes(t, e, name, "eth0")-eth0; lo > size/8 || eth > size/8 {
		t.Errorf("the container's lo received %d bytes and eth0 %d during the transfer: the connection was not handed over", lo, eth)
	}
}

// helloAsItself connects from the host's address ip to a hello server at
// public and fails unless the server greets the client's true address
// and port.
//
// The client's port is one below the kernels' ephemeral range
// (32768-60999), where the container's own sockets take theirs: a port
// the container holds on its side cannot be the client's there, and a
// spliced client then comes from another port (docs/architecture.md,
// "Published ports"). The hostile container of TestMonitorBounds listens
// on 200 such ports, which a host-picked port hit about once in 150
// clients.
func helloAsItself(t *testing.T, ip netip.Addr, public string) {
	t.Helper()
	var reply, local string
	var err error
	for range 20 {
		port := uint16(20000 + mathrand.IntN(12000))
		reply, local, err = sayHelloFrom("tcp", netip.AddrPortFrom(ip, port), true, public)
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello " + local + "\n"; reply != want {
		t.Fatalf("reply %q, want %q: the server must see the true client address", reply, want)
	}
}

// waitListening waits until a TCP socket listens on port in the
// container, as its /proc/net/tcp and tcp6 tell.
func waitListening(t *testing.T, e *env, name string, port int) {
	t.Helper()
	// local_address is ADDR:PORT in hex; st 0A is LISTEN.
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^\s*\d+: [0-9A-F]+:%04X [0-9A-F]+:0000 0A `, port))
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := e.lodger(t, "exec", name, "cat", "/proc/net/tcp", "/proc/net/tcp6")
		if re.MatchString(r.stdout) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s\nno socket listens on port %d in %s within 60s", r, port, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
