package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		n    int
	}{
		{[]string{"tcp", "8080"}, []string{"tcp", "8080"}, 0},
		{[]string{"-n", "3", "tcp", "8080"}, []string{"tcp", "8080"}, 3},
		{[]string{"tcp", "8080", "-n", "3"}, []string{"tcp", "8080"}, 3},
		{[]string{"tcp", "-n=4", "8080"}, []string{"tcp", "8080"}, 4},
	} {
		fs := newFlags("serve")
		n := fs.Int("n", 0, "")
		pos, err := parseArgs(fs, tc.args, "tcp|udp", "PORT")
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.pos, pos); diff != "" || *n != tc.n {
			t.Errorf("%q: -n %d, positional (-want +got):\n%s", tc.args, *n, diff)
		}
	}
	for _, args := range [][]string{{"tcp"}, {"tcp", "1", "2"}, {"-bogus", "tcp", "1"}} {
		fs := newFlags("serve")
		fs.Int("n", 0, "")
		if _, err := parseArgs(fs, args, "tcp|udp", "PORT"); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestRun(t *testing.T) {
	for _, args := range [][]string{nil, {"nosuch"}, {"serve", "sctp", "80"}, {"serve", "tcp", "0"}, {"dial", "icmp", "x:1"}, {"garbage", "eth0", "many"}} {
		if err := run(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

const procRoute = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0202000A	0003	0	0	0	00000000	0	0	0
eth0	0002000A	00000000	0001	0	0	0	00FFFFFF	0	0	0
eth1	0000A8C0	00000000	0000	0	0	0	00FFFFFF	0	0	0
`

const procIPv6Route = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000002 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`

func TestRoutes(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixture is a little-endian /proc/net/route")
	}
	r4, err := parseRoutes4(strings.NewReader(procRoute))
	if err != nil {
		t.Fatal(err)
	}
	r6, err := parseRoutes6(strings.NewReader(procIPv6Route))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range append(r4, r6...) {
		got = append(got, r.String())
	}
	want := []string{
		"route default via 10.0.2.2 dev eth0",
		"route 10.0.2.0/24 dev eth0",
		"route6 fd00::/64 dev eth0",
		"route6 fe80::/64 dev eth0",
		"route6 default via fd00::2 dev eth0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if _, err := parseRoutes4(strings.NewReader("h\neth0 zz 0 1 0 0 0 0\n")); err == nil {
		t.Error("a bad line parsed")
	}
}

func TestEcho(t *testing.T) {
	req := echoRequest(false, 0x1234, 7, []byte("abc"))
	if checksum(req, 0) != 0 {
		t.Errorf("echo request %x does not checksum to zero", req)
	}
	if req[0] != icmpEcho || binary.BigEndian.Uint16(req[4:]) != 0x1234 || binary.BigEndian.Uint16(req[6:]) != 7 {
		t.Errorf("echo request %x", req)
	}
	reply := append([]byte{}, req...)
	reply[0] = icmpEchoReply
	if id, seq, ok := parseEchoReply(reply, false, false); !ok || id != 0x1234 || seq != 7 {
		t.Errorf("reply: id %x seq %d ok %v", id, seq, ok)
	}
	withIP := append(ipv4(netip.MustParseAddr("10.0.2.2"), netip.MustParseAddr("10.0.2.100"), protoICMP, 1, 0, nil)[:20], reply...)
	if id, seq, ok := parseEchoReply(withIP, false, true); !ok || id != 0x1234 || seq != 7 {
		t.Errorf("raw reply: id %x seq %d ok %v", id, seq, ok)
	}
	if _, _, ok := parseEchoReply(req, false, false); ok {
		t.Error("an echo request parsed as a reply")
	}
	if _, _, ok := parseEchoReply(withIP[:22], false, true); ok {
		t.Error("a truncated reply parsed")
	}
	v6 := echoRequest(true, 1, 2, nil)
	v6[0] = icmpv6EchoReply
	if _, seq, ok := parseEchoReply(v6, true, false); !ok || seq != 2 {
		t.Errorf("ICMPv6 reply: seq %d ok %v", seq, ok)
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071's example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	if got := checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0); got != ^uint16(0xddf2) {
		t.Errorf("checksum %04x, want %04x", got, ^uint16(0xddf2))
	}
	src, dst := netip.MustParseAddr("10.0.2.100"), netip.MustParseAddr("10.0.2.3")
	u := udp(src, dst, 1234, 53, []byte("odd"))
	if checksum(u, pseudoSum(src, dst, protoUDP, len(u))) != 0 {
		t.Errorf("UDP datagram %x does not verify", u)
	}
	p := ipv4(src, dst, protoUDP, 1, 0, u)
	if checksum(p[:20], 0) != 0 || binary.BigEndian.Uint16(p[2:]) != uint16(len(p)) {
		t.Errorf("IPv4 header %x", p[:20])
	}
}

func TestFrames(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	links := map[string]link{
		"tap": {ether: true, mtu: 65520, srcMAC: mac, dstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
			src4: netip.MustParseAddr("10.0.2.100"), gw4: netip.MustParseAddr("10.0.2.2"), dns: netip.MustParseAddr("10.0.2.3"),
			src6: netip.MustParseAddr("fd00::100"), gw6: netip.MustParseAddr("fd00::2")},
		"tap-1500":   {ether: true, mtu: 1500, srcMAC: mac},
		"tun":        {mtu: 1500},
		"tiny-mtu":   {ether: true, mtu: 68, srcMAC: mac},
		"no-address": {ether: true, mtu: 9000},
	}
	for name, l := range links {
		t.Run(name, func(t *testing.T) {
			g := newFrameGen(l, 42)
			kinds := map[string]int{}
			for i := range 20 * len(frameKinds) {
				f := g.frame(i)
				kinds[f.kind]++
				if len(f.data) > g.maxFrame() {
					t.Fatalf("frame %d (%s) is %d bytes, the link takes %d", i, f.kind, len(f.data), g.maxFrame())
				}
				if l.srcMAC != nil && len(f.data) >= 14 && !bytes.Equal(f.data[6:12], l.srcMAC) {
					t.Fatalf("frame %d (%s) from %x, want %x", i, f.kind, f.data[6:12], []byte(l.srcMAC))
				}
			}
			for _, k := range frameKinds {
				if kinds[k.name] == 0 {
					t.Errorf("no %s frame", k.name)
				}
			}
		})
	}
	a, b := newFrameGen(links["tap"], 7), newFrameGen(links["tap"], 7)
	for i := range 500 {
		if fa, fb := a.frame(i), b.frame(i); !bytes.Equal(fa.data, fb.data) {
			t.Fatalf("frame %d differs between two generators of one seed", i)
		}
	}
}

func TestServe(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &server{quiet: true, limit: 2}
		done := make(chan error, 1)
		go func() { done <- s.serveTCP(l) }()
		for range 2 {
			c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(c, request)
			reply, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if want := "hello " + c.LocalAddr().String() + "\n"; reply != want || err != nil {
				t.Errorf("reply %q (%v), want %q", reply, err, want)
			}
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		if n := s.served.Load(); n != 2 {
			t.Errorf("served %d, want 2", n)
		}
	})
	t.Run("udp", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &server{quiet: true, limit: 1}
		done := make(chan error, 1)
		go func() { done <- s.serveUDP(pc) }()
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, request)
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if want := "hello " + c.LocalAddr().String() + "\n"; string(buf[:n]) != want || err != nil {
			t.Errorf("reply %q (%v), want %q", buf[:n], err, want)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}
