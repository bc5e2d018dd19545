package main

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
)

// Ethertypes and IP protocol numbers the frames use.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherVLAN = 0x8100
	etherIPv6 = 0x86dd

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	// IPv6 extension headers.
	protoHopByHop = 0
	protoRouting  = 43
	protoFragment = 44
	protoNoNext   = 59
	protoDestOpts = 60
)

// link describes where hostile frames go: the container's side of the
// network and the addresses of the stack behind it.
type link struct {
	// ether says frames carry an Ethernet header (a TAP device); without
	// it they are bare IP packets (a TUN device).
	ether          bool
	mtu            int
	srcMAC, dstMAC net.HardwareAddr
	src4, gw4, dns netip.Addr
	src6, gw6      netip.Addr // invalid without IPv6
}

// frame is one malformed frame and the ethertype to send it as (the
// sockaddr's protocol, which is all a TUN device is told).
type frame struct {
	kind  string
	data  []byte
	proto uint16
}

// frameGen makes malformed frames for a link, deterministically from a
// seed so that a crash can be reproduced.
type frameGen struct {
	l   link
	rng *rand.Rand
}

func newFrameGen(l link, seed uint64) *frameGen {
	// Below 128 bytes some kinds would have no room at all; a smaller
	// real MTU only makes their sends fail.
	if l.mtu < 128 {
		l.mtu = 128
	}
	if l.mtu > 65535 {
		l.mtu = 65535
	}
	return &frameGen{l: l, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// frameKind builds one sort of hostile input. raw kinds return a whole
// Ethernet frame and only run on Ethernet links; the others return an
// ethertype and a packet, which frame wraps.
type frameKind struct {
	name  string
	raw   bool
	build func(g *frameGen) (uint16, []byte)
}

var frameKinds = []frameKind{
	{"ipv4-truncated", false, (*frameGen).ipv4Truncated},
	{"ipv4-bad-ihl", false, (*frameGen).ipv4BadIHL},
	{"ipv4-bad-length", false, (*frameGen).ipv4BadLength},
	{"ipv4-bad-checksum", false, (*frameGen).ipv4BadChecksum},
	{"ipv4-options", false, (*frameGen).ipv4Options},
	{"ipv4-bogus-protocol", false, (*frameGen).ipv4BogusProtocol},
	{"ipv4-fragment", false, (*frameGen).ipv4Fragment},
	{"tcp-malformed", false, (*frameGen).tcpMalformed},
	{"udp-malformed", false, (*frameGen).udpMalformed},
	{"dns-malformed", false, (*frameGen).dnsMalformed},
	{"icmp-malformed", false, (*frameGen).icmpMalformed},
	{"ipv6-malformed", false, (*frameGen).ipv6Malformed},
	{"ndp-malformed", false, (*frameGen).ndpMalformed},
	{"mtu-sized", false, (*frameGen).mtuSized},
	{"random", false, (*frameGen).random},
	{"arp-malformed", true, (*frameGen).arpMalformed},
	{"ether-odd", true, (*frameGen).etherOdd},
}

// frame returns the i-th frame: the kinds take turns, so any count of
// frames from one kind's worth up covers all of them.
func (g *frameGen) frame(i int) frame {
	k := frameKinds[i%len(frameKinds)]
	if k.raw && !g.l.ether {
		k = frameKind{k.name, false, (*frameGen).random}
	}
	proto, data := k.build(g)
	if !k.raw && g.l.ether {
		hdr := make([]byte, 14, 14+len(data))
		copy(hdr, g.dstMAC())
		copy(hdr[6:], g.l.srcMAC)
		binary.BigEndian.PutUint16(hdr[12:], proto)
		data = append(hdr, data...)
	}
	if max := g.maxFrame(); len(data) > max {
		data = data[:max]
	}
	return frame{kind: k.name, data: data, proto: proto}
}

// maxFrame is the most a link takes in one frame.
func (g *frameGen) maxFrame() int {
	if g.l.ether {
		return g.l.mtu + 14
	}
	return g.l.mtu
}

// maxPacket is the most an IP packet may be.
func (g *frameGen) maxPacket() int { return g.l.mtu }

func (g *frameGen) dstMAC() net.HardwareAddr {
	switch {
	case g.rng.IntN(8) == 0:
		return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case len(g.l.dstMAC) == 6:
		return g.l.dstMAC
	}
	return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
}

func (g *frameGen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

func (g *frameGen) pick(vals ...int) int { return vals[g.rng.IntN(len(vals))] }

func orDefault(a netip.Addr, s string) netip.Addr {
	if a.IsValid() {
		return a
	}
	return netip.MustParseAddr(s)
}

func (g *frameGen) src4() netip.Addr { return orDefault(g.l.src4, "10.0.2.100") }

// dst4 is a destination the stack itself handles: the gateway, the DNS
// server or another address of the subnet. Well-formed packets to the
// outside world would only be forwarded.
func (g *frameGen) dst4() netip.Addr {
	switch g.rng.IntN(4) {
	case 0:
		return orDefault(g.l.dns, "10.0.2.3")
	case 1:
		return netip.AddrFrom4([4]byte{10, 0, 2, byte(g.rng.IntN(256))})
	}
	return orDefault(g.l.gw4, "10.0.2.2")
}

// ipv4 builds a well-formed IPv4 packet; the malformations change it.
func ipv4(src, dst netip.Addr, proto byte, id uint16, frag uint16, payload []byte) []byte {
	p := make([]byte, 20+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], id)
	binary.BigEndian.PutUint16(p[6:], frag)
	p[8] = 64
	p[9] = proto
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	copy(p[20:], payload)
	fixIPv4Checksum(p)
	return p
}

// fixIPv4Checksum recomputes the checksum over the 20 fixed header bytes,
// so that the stack looks past it at whatever else is wrong.
func fixIPv4Checksum(p []byte) {
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
}

// udp builds a UDP datagram with a valid checksum.
func udp(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	binary.BigEndian.PutUint16(u[6:], checksum(u, pseudoSum(src, dst, protoUDP, len(u))))
	return u
}

// tcp builds a TCP segment of the given header and checksums it.
func tcp(src, dst netip.Addr, hdr, payload []byte) []byte {
	t := append(append([]byte{}, hdr...), payload...)
	if len(t) >= 18 {
		t[16], t[17] = 0, 0
		binary.BigEndian.PutUint16(t[16:], checksum(t, pseudoSum(src, dst, protoTCP, len(t))))
	}
	return t
}

func (g *frameGen) port() uint16 {
	return uint16(g.pick(0, 7, 22, 53, 80, 443, 8080, 65535, g.rng.IntN(65536)))
}

func (g *frameGen) validUDP() []byte {
	src, dst := g.src4(), g.dst4()
	u := udp(src, dst, g.port(), g.port(), g.bytes(g.rng.IntN(64)))
	return ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, u)
}

func (g *frameGen) ipv4Truncated() (uint16, []byte) {
	p := g.validUDP()
	return etherIPv4, p[:g.rng.IntN(20)]
}

func (g *frameGen) ipv4BadIHL() (uint16, []byte) {
	p := g.validUDP()
	ihl := byte(g.pick(0, 1, 4, 6, 15, g.rng.IntN(16)))
	p[0] = 0x40 | ihl
	fixIPv4Checksum(p)
	return etherIPv4, p
}

func (g *frameGen) ipv4BadLength() (uint16, []byte) {
	p := g.validUDP()
	n := len(p)
	binary.BigEndian.PutUint16(p[2:], uint16(g.pick(0, 1, 19, 20, n-1, n+1, 65535, g.rng.IntN(65536))))
	fixIPv4Checksum(p)
	return etherIPv4, p
}

func (g *frameGen) ipv4BadChecksum() (uint16, []byte) {
	p := g.validUDP()
	p[10] ^= byte(1 + g.rng.IntN(255))
	if g.rng.IntN(2) == 0 {
		p[0] = byte(g.pick(0x05, 0x65, 0xf5, 0x35)) // not version 4
		fixIPv4Checksum(p)
	}
	return etherIPv4, p
}

// ipv4Options gives a header with options whose lengths and pointers lie.
func (g *frameGen) ipv4Options() (uint16, []byte) {
	opts := [][]byte{
		{0x07, 0x00},                    // record route, length 0
		{0x07, 0x27, 0x04},              // record route longer than the options
		{0x44, 0x01},                    // timestamp, length 1
		{0x44, 0x28, 0xff, 0x0f},        // timestamp, pointer past the end
		{0x83, 0x03, 0x00},              // loose source route, pointer 0
		{0x89, 0x07, 0x04, 10, 0, 2, 2}, // strict source route via the gateway
		{0x94, 0x04, 0x00, 0x00},        // router alert
		{0x01, 0x01, 0x01, 0x00},        // no-ops and end
		g.bytes(g.rng.IntN(41)),
	}
	o := opts[g.rng.IntN(len(opts))]
	ihl := 5 + (len(o)+3)/4
	if g.rng.IntN(3) == 0 {
		ihl = 5 + g.rng.IntN(11)
	}
	src, dst := g.src4(), g.dst4()
	payload := udp(src, dst, g.port(), g.port(), g.bytes(8))
	p := make([]byte, 20, 20+len(o)+3+len(payload))
	p = append(p, o...)
	for len(p)%4 != 0 {
		p = append(p, 0)
	}
	p = append(p, payload...)
	full := ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, nil)
	copy(p, full[:20])
	p[0] = 0x40 | byte(ihl&0x0f)
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	fixIPv4Checksum(p)
	return etherIPv4, p
}

func (g *frameGen) ipv4BogusProtocol() (uint16, []byte) {
	proto := byte(g.pick(0, 2, 4, 41, 47, 50, 51, 103, 132, 136, 253, 255, g.rng.IntN(256)))
	return etherIPv4, ipv4(g.src4(), g.dst4(), proto, uint16(g.rng.Uint32()), 0, g.bytes(g.rng.IntN(256)))
}

// ipv4Fragment sends fragments of a few datagram ids, so that across
// frames they overlap, leave holes, exceed 65535 bytes reassembled (the
// ping of death) or never complete.
func (g *frameGen) ipv4Fragment() (uint16, []byte) {
	const mf = 0x2000
	const df = 0x4000
	id := uint16(0xf000 + g.rng.IntN(4))
	proto := byte(g.pick(protoUDP, protoTCP, protoICMP))
	var frag uint16
	size := 8 * (1 + g.rng.IntN(32))
	switch g.rng.IntN(6) {
	case 0: // the last fragment far beyond 65535 bytes
		frag = 8191
		size = min(1480, g.maxPacket()-20)
	case 1: // empty fragment, more to come
		frag = mf | uint16(g.rng.IntN(8192))
		size = 0
	case 2: // overlapping the start
		frag = mf | uint16(g.rng.IntN(4))
	case 3: // don't fragment and more fragments at once
		frag = df | mf | uint16(g.rng.IntN(8192))
	case 4: // a first fragment too short to hold the transport header
		frag = mf
		size = g.pick(1, 4, 7)
	default:
		frag = uint16(g.rng.IntN(8192)) | uint16(g.pick(0, mf))
		size = g.rng.IntN(min(2048, g.maxPacket()-20))
	}
	return etherIPv4, ipv4(g.src4(), g.dst4(), proto, id, frag, g.bytes(size))
}

func (g *frameGen) tcpMalformed() (uint16, []byte) {
	src, dst := g.src4(), g.dst4()
	hdr := make([]byte, 20)
	binary.BigEndian.PutUint16(hdr[0:], g.port())
	binary.BigEndian.PutUint16(hdr[2:], g.port())
	binary.BigEndian.PutUint32(hdr[4:], g.rng.Uint32())
	binary.BigEndian.PutUint32(hdr[8:], g.rng.Uint32())
	hdr[13] = byte(g.pick(0x02, 0x03, 0x06, 0x3f, 0xff, 0x29, 0x00, g.rng.IntN(256)))
	binary.BigEndian.PutUint16(hdr[14:], uint16(g.pick(0, 1, 65535)))
	binary.BigEndian.PutUint16(hdr[18:], uint16(g.rng.IntN(65536)))
	opts := [][]byte{
		{2, 0},                  // MSS, length 0
		{2, 4, 0, 0},            // MSS 0
		{3, 1},                  // window scale, length 1
		{3, 3, 255},             // window scale 255
		{4, 2, 8, 255, 1, 2, 3}, // SACK permitted, then a timestamp too long
		{5, 3, 0},               // SACK block, length 3
		{5, 34, 0, 0, 0, 1},     // SACK blocks past the end
		{30, 2},                 // MPTCP, empty
		{254, 1},                // experimental, length 1
		g.bytes(g.rng.IntN(40)),
	}
	o := opts[g.rng.IntN(len(opts))]
	hdr = append(hdr, o...)
	for len(hdr)%4 != 0 {
		hdr = append(hdr, 0)
	}
	off := len(hdr) / 4
	if g.rng.IntN(3) == 0 {
		off = g.rng.IntN(16)
	}
	hdr[12] = byte(off << 4)
	seg := tcp(src, dst, hdr, g.bytes(g.rng.IntN(64)))
	if g.rng.IntN(5) == 0 {
		seg = seg[:g.rng.IntN(20)]
	}
	return etherIPv4, ipv4(src, dst, protoTCP, uint16(g.rng.Uint32()), 0, seg)
}

func (g *frameGen) udpMalformed() (uint16, []byte) {
	src, dst := g.src4(), g.dst4()
	u := udp(src, dst, g.port(), g.port(), g.bytes(g.rng.IntN(128)))
	switch g.rng.IntN(4) {
	case 0:
		binary.BigEndian.PutUint16(u[4:], uint16(g.pick(0, 1, 7, len(u)+1, 65535)))
	case 1:
		u[6] ^= 0x5a
	case 2:
		u = u[:g.rng.IntN(8)]
	default:
		binary.BigEndian.PutUint16(u[4:], uint16(g.pick(0, 7, len(u)+9)))
		u[6], u[7] = 0, 0 // no checksum: only the length lies
	}
	return etherIPv4, ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, u)
}

// dnsMalformed sends the stack's resolver well-formed UDP carrying broken
// DNS messages.
func (g *frameGen) dnsMalformed() (uint16, []byte) {
	hdr := func(flags, qd, an uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], uint16(g.rng.Uint32()))
		binary.BigEndian.PutUint16(h[2:], flags)
		binary.BigEndian.PutUint16(h[4:], qd)
		binary.BigEndian.PutUint16(h[6:], an)
		return h
	}
	q := func(name []byte, qtype uint16) []byte {
		return append(name, byte(qtype>>8), byte(qtype), 0, 1)
	}
	long := make([]byte, 0, 320)
	for len(long) < 300 {
		long = append(long, 63)
		long = append(long, make([]byte, 63)...)
	}
	msgs := [][]byte{
		append(hdr(0x0100, 1, 0), q([]byte{0xc0, 12}, 1)...),                   // name pointing at itself
		append(hdr(0x0100, 1, 0), q([]byte{3, 'a', 'b', 'c', 0xc0, 12}, 1)...), // pointer loop through a label
		append(hdr(0x0100, 1, 0), 63, 'x'),                                     // label past the end
		append(hdr(0x0100, 1, 0), q(append(long, 0), 1)...),                    // name over 255 bytes
		append(hdr(0x0100, 65535, 65535), q([]byte{1, 'a', 0}, 1)...),          // counts that lie
		append(hdr(0x8180, 1, 1), q([]byte{1, 'a', 0}, 1)...),                  // a response, not a query
		append(hdr(0x0100, 1, 0), q([]byte{1, 'a', 0}, 252)...),                // AXFR
		append(hdr(0x0100, 1, 0), q([]byte{0x80, 'a', 0}, 255)...),             // reserved label type
		append(hdr(0x7900, 1, 0), q([]byte{1, 'a', 0}, 1)...),                  // unknown opcode
		hdr(0x0100, 0, 0)[:g.rng.IntN(12)],
		g.bytes(g.rng.IntN(512)),
	}
	msg := msgs[g.rng.IntN(len(msgs))]
	src, dst := g.src4(), orDefault(g.l.dns, "10.0.2.3")
	return etherIPv4, ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, udp(src, dst, uint16(1024+g.rng.IntN(60000)), 53, msg))
}

func (g *frameGen) icmpMalformed() (uint16, []byte) {
	src, dst := g.src4(), g.dst4()
	var m []byte
	switch g.rng.IntN(5) {
	case 0: // truncated
		m = g.bytes(g.rng.IntN(8))
	case 1: // echo request with a wrong checksum
		m = echoRequest(false, uint16(g.rng.Uint32()), 1, g.bytes(g.rng.IntN(64)))
		m[2] ^= 0xff
	case 2: // an error quoting a broken packet
		inner := g.validUDP()
		inner = inner[:g.rng.IntN(len(inner)+1)]
		if len(inner) > 0 {
			inner[0] = byte(0x40 | g.rng.IntN(16))
		}
		m = append([]byte{byte(g.pick(3, 4, 5, 11, 12)), byte(g.rng.IntN(16)), 0, 0, 0, 0, 0, 0}, inner...)
		binary.BigEndian.PutUint16(m[2:], checksum(m, 0))
	case 3: // a big echo request
		m = echoRequest(false, uint16(g.rng.Uint32()), 2, g.bytes(min(g.maxPacket()-28, 8192)))
	default: // unknown types and codes
		m = append([]byte{byte(g.rng.IntN(256)), byte(g.rng.IntN(256)), 0, 0}, g.bytes(g.rng.IntN(32))...)
		binary.BigEndian.PutUint16(m[2:], checksum(m, 0))
	}
	return etherIPv4, ipv4(src, dst, protoICMP, uint16(g.rng.Uint32()), 0, m)
}

func (g *frameGen) src6() netip.Addr { return orDefault(g.l.src6, "fe80::100") }

func (g *frameGen) dst6() netip.Addr {
	switch g.rng.IntN(3) {
	case 0:
		return netip.MustParseAddr("ff02::1")
	case 1:
		return netip.MustParseAddr("fe80::2")
	}
	return orDefault(g.l.gw6, "fd00::2")
}

// ipv6 builds an IPv6 packet whose payload starts with header next.
func ipv6(src, dst netip.Addr, next byte, hop byte, payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6] = next
	p[7] = hop
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	copy(p[40:], payload)
	return p
}

func (g *frameGen) ipv6Malformed() (uint16, []byte) {
	src, dst := g.src6(), g.dst6()
	var next byte
	var payload []byte
	switch g.rng.IntN(6) {
	case 0: // hop-by-hop options whose lengths overrun: PadN, jumbo, router alert
		next = protoHopByHop
		payload = []byte{protoUDP, 0, 1, byte(g.pick(4, 200)), 0, 0, 0xc2, 4}
		payload = append(payload, g.bytes(8)...)
	case 1: // routing header type 0 with too many segments left
		next = protoRouting
		payload = []byte{protoNoNext, 2, 0, 255, 0, 0, 0, 0}
		payload = append(payload, g.bytes(16)...)
	case 2: // fragment headers that overlap or never end
		next = protoFragment
		off := uint16(g.rng.IntN(8192)<<3) | uint16(g.rng.IntN(2))
		payload = []byte{protoUDP, 0, byte(off >> 8), byte(off), 0, 0, 0, byte(g.rng.IntN(4))}
		payload = append(payload, g.bytes(8*g.rng.IntN(16))...)
	case 3: // a long chain of destination options headers
		next = protoDestOpts
		for i := range 60 {
			n := byte(protoDestOpts)
			if i == 59 {
				n = protoNoNext
			}
			payload = append(payload, n, 0, 1, 4, 0, 0, 0, 0)
		}
	case 4: // an upper-layer header that is cut short
		next = byte(g.pick(protoUDP, protoTCP, protoICMPv6))
		payload = g.bytes(g.rng.IntN(8))
	default:
		next = byte(g.rng.IntN(256))
		payload = g.bytes(g.rng.IntN(128))
	}
	p := ipv6(src, dst, next, byte(g.pick(0, 1, 64, 255)), payload)
	switch g.rng.IntN(4) {
	case 0: // a payload length that lies
		binary.BigEndian.PutUint16(p[4:], uint16(g.pick(0, len(payload)+1, 65535)))
	case 1:
		p = p[:g.rng.IntN(40)]
	case 2:
		p[0] = byte(g.pick(0x40, 0x00, 0xf0)) // not version 6
	}
	return etherIPv6, p
}

// ndpMalformed sends neighbor discovery messages with option lengths of
// zero (a classic endless loop) or past the end.
func (g *frameGen) ndpMalformed() (uint16, []byte) {
	src, dst := g.src6(), g.dst6()
	typ := byte(g.pick(133, 134, 135, 136, 137))
	m := []byte{typ, 0, 0, 0, 0, 0, 0, 0}
	if typ == 134 {
		m = append(m, 0, 0, 0, 0, 0, 0, 0, 0) // reachable and retransmit timers
	}
	if typ != 133 && typ != 134 {
		t := dst.As16()
		m = append(m, t[:]...)
		if typ == 137 {
			m = append(m, t[:]...)
		}
	}
	opt := []byte{byte(g.pick(1, 2, 3, 5, 25, 31, g.rng.IntN(256))), byte(g.pick(0, 0, 1, 4, 255))}
	m = append(m, opt...)
	m = append(m, g.bytes(g.rng.IntN(24))...)
	binary.BigEndian.PutUint16(m[2:], checksum(m, pseudoSum(src, dst, protoICMPv6, len(m))))
	return etherIPv6, ipv6(src, dst, protoICMPv6, 255, m)
}

// mtuSized sends the biggest frames the link carries, well-formed or
// claiming more than they hold.
func (g *frameGen) mtuSized() (uint16, []byte) {
	src, dst := g.src4(), g.dst4()
	n := g.maxPacket() - 20 - 8
	if g.rng.IntN(2) == 0 {
		return etherIPv4, ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, udp(src, dst, g.port(), g.port(), make([]byte, n)))
	}
	p := ipv4(src, dst, protoUDP, uint16(g.rng.Uint32()), 0, g.bytes(n+8))
	binary.BigEndian.PutUint16(p[2:], 65535)
	fixIPv4Checksum(p)
	return etherIPv4, p
}

func (g *frameGen) random() (uint16, []byte) {
	n := g.pick(0, 1, g.rng.IntN(64), g.rng.IntN(g.maxPacket()+1))
	return uint16(g.pick(etherIPv4, etherIPv6, etherARP, g.rng.IntN(65536))), g.bytes(n)
}

// etherHeader is a whole Ethernet header for the raw kinds.
func (g *frameGen) etherHeader(proto uint16) []byte {
	h := make([]byte, 14)
	copy(h, g.dstMAC())
	copy(h[6:], g.l.srcMAC)
	binary.BigEndian.PutUint16(h[12:], proto)
	return h
}

func (g *frameGen) arpMalformed() (uint16, []byte) {
	a := make([]byte, 28)
	binary.BigEndian.PutUint16(a[0:], uint16(g.pick(1, 0, 6, 0xffff)))
	binary.BigEndian.PutUint16(a[2:], uint16(g.pick(etherIPv4, etherIPv6, 0)))
	a[4] = byte(g.pick(6, 0, 16, 255))
	a[5] = byte(g.pick(4, 0, 16, 255))
	binary.BigEndian.PutUint16(a[6:], uint16(g.pick(1, 2, 0, 3, 0xffff)))
	copy(a[8:], g.l.srcMAC)
	s, d := g.src4().As4(), g.dst4().As4()
	copy(a[14:], s[:])
	copy(a[24:], d[:])
	a = a[:g.pick(28, 8, 27, g.rng.IntN(28))]
	return etherARP, append(g.etherHeader(etherARP), a...)
}

func (g *frameGen) etherOdd() (uint16, []byte) {
	switch g.rng.IntN(4) {
	case 0: // a header cut short
		return etherIPv4, g.etherHeader(etherIPv4)[:g.rng.IntN(14)]
	case 1: // VLAN tags stacked on a UDP packet
		f := g.etherHeader(etherVLAN)
		for range g.rng.IntN(4) {
			f = append(f, 0, byte(g.rng.IntN(256)), 0x81, 0x00)
		}
		f = append(f, 0, 1, 0x08, 0x00)
		return etherVLAN, append(f, g.validUDP()...)
	case 2: // an 802.3 length field instead of an ethertype
		return 0x0040, append(g.etherHeader(uint16(g.rng.IntN(1536))), g.bytes(g.rng.IntN(100))...)
	}
	proto := uint16(g.pick(0x88cc, 0x8863, 0x8864, 0x888e, 0x88a8, 0x0842, g.rng.IntN(65536)))
	return proto, append(g.etherHeader(proto), g.bytes(g.rng.IntN(200))...)
}
