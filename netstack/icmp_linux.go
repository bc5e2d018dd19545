package netstack

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// pinger forwards the container's ICMP echo requests through the user's
// unprivileged ICMP sockets (net.ipv4.ping_group_range), so that `ping`
// in a container tells the truth. Without it the stack, promiscuous,
// would answer every echo itself, as if every host were up.
type pinger struct {
	st        *Stack
	slots     chan struct{}
	deniedLog sync.Once
}

const (
	pingTimeout  = 5 * time.Second
	pingInFlight = 64
)

func newPinger(st *Stack) *pinger {
	return &pinger{st: st, slots: make(chan struct{}, pingInFlight)}
}

// intercept takes echo requests for hosts other than the gateway and the
// resolver out of the frame stream; everything else goes to the stack.
func (p *pinger) intercept(frame []byte) bool {
	if len(frame) < header.EthernetMinimumSize {
		return false
	}
	eth := header.Ethernet(frame)
	pkt := frame[header.EthernetMinimumSize:]
	pl := p.st.plan
	if eth.Type() == header.ARPProtocolNumber {
		// With spoofing the stack would answer ARP for every address; on
		// a bridge, only the gateway is its to answer for.
		a := header.ARP(pkt)
		return pl.lan && a.IsValid() && a.Op() == header.ARPRequest && netip.AddrFrom4([4]byte(a.ProtocolAddressTarget())) != pl.gateway
	}
	var src, dst netip.Addr
	var payload []byte
	switch eth.Type() {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(pkt)
		if !ip.IsValid(len(pkt)) || ip.TransportProtocol() != header.ICMPv4ProtocolNumber ||
			ip.More() || ip.FragmentOffset() != 0 {
			return false
		}
		payload = ip.Payload()
		if len(payload) < header.ICMPv4MinimumSize || header.ICMPv4(payload).Type() != header.ICMPv4Echo {
			return false
		}
		src, dst = netipAddr(ip.SourceAddress()), netipAddr(ip.DestinationAddress())
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(pkt)
		if !ip.IsValid(len(pkt)) || ip.TransportProtocol() != header.ICMPv6ProtocolNumber {
			return false
		}
		payload = ip.Payload()
		if pl.lan && len(payload) >= header.ICMPv6NeighborSolicitMinimumSize && header.ICMPv6(payload).Type() == header.ICMPv6NeighborSolicit {
			// As ARP above: only the gateway's address is the stack's.
			return header.NDPNeighborSolicit(header.ICMPv6(payload).MessageBody()).TargetAddress() != tcpipAddr(pl.gateway6)
		}
		if len(payload) < header.ICMPv6EchoMinimumSize || header.ICMPv6(payload).Type() != header.ICMPv6EchoRequest {
			return false
		}
		src, dst = netipAddr(ip.SourceAddress()), netipAddr(ip.DestinationAddress())
	default:
		return false
	}
	switch dst {
	case pl.gateway, pl.dns, pl.gateway6, pl.dns6:
		return false // the stack's own addresses answer themselves
	}
	if pl.lan {
		if !pl.onLink(src) || pl.onLink(dst) {
			return true // spoofed, or for a neighbour the bridge carries: not ours
		}
	} else if src != pl.guest && src != pl.guest6 {
		return true // spoofed: dropped
	}
	host, err := p.st.cfg.destination(dst)
	if err != nil {
		return true // blocked: no answer, as a filtered host
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return true
	}
	req := append([]byte(nil), payload...)
	to := replyTo{mac: eth.SourceAddress(), addr: src}
	go func() {
		defer func() { <-p.slots }()
		p.echo(dst, host, req, to)
	}()
	return true
}

// echo sends one echo request to host and, on a reply, writes the answer
// into the container as coming from dst.
func (p *pinger) echo(dst, host netip.Addr, req []byte, to replyTo) {
	v4 := host.Is4()
	domain, proto := unix.AF_INET6, unix.IPPROTO_ICMPV6
	if v4 {
		domain, proto = unix.AF_INET, unix.IPPROTO_ICMP
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			p.deniedLog.Do(func() {
				p.st.logf("network: ICMP echo from the container is dropped: your group is outside net.ipv4.ping_group_range (see `sysctl net.ipv4.ping_group_range`; as root: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")")
			})
		}
		return
	}
	defer unix.Close(fd)
	// The kernel puts its own identifier into the request; the
	// container's goes back into the reply.
	ident := uint16(req[4])<<8 | uint16(req[5])
	out := append([]byte(nil), req...)
	out[2], out[3] = 0, 0 // the kernel computes the checksum
	var sa unix.Sockaddr
	if v4 {
		sa = &unix.SockaddrInet4{Addr: host.As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: host.As16()}
	}
	if err := unix.Sendto(fd, out, 0, sa); err != nil {
		return
	}
	deadline := time.Now().Add(pingTimeout)
	buf := make([]byte, 65535)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) || n == 0 {
			if err == nil {
				return
			}
			continue
		}
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil || n < 8 {
			continue
		}
		reply := buf[:n]
		// Only the echo reply to this request's sequence number.
		if (v4 && header.ICMPv4Type(reply[0]) != header.ICMPv4EchoReply) ||
			(!v4 && header.ICMPv6Type(reply[0]) != header.ICMPv6EchoReply) ||
			reply[6] != req[6] || reply[7] != req[7] {
			continue
		}
		reply[4], reply[5] = byte(ident>>8), byte(ident)
		p.st.link.writeFrame(echoReplyFrame(dst, reply, p.st.link.addr, to))
		return
	}
}

// replyTo is who asked: the container's MAC and address.
type replyTo struct {
	mac  tcpip.LinkAddress
	addr netip.Addr
}

// echoReplyFrame builds the Ethernet frame of an echo reply from dst to
// the container (to), sent from the gateway's MAC gw; icmp is the reply's
// ICMP message, checksum to be set.
func echoReplyFrame(dst netip.Addr, icmp []byte, gw tcpip.LinkAddress, to replyTo) []byte {
	var iphdr int
	if dst.Is4() {
		iphdr = header.IPv4MinimumSize
	} else {
		iphdr = header.IPv6MinimumSize
	}
	frame := make([]byte, header.EthernetMinimumSize+iphdr+len(icmp))
	eth := header.Ethernet(frame)
	body := frame[header.EthernetMinimumSize+iphdr:]
	copy(body, icmp)
	if dst.Is4() {
		eth.Encode(&header.EthernetFields{SrcAddr: gw, DstAddr: to.mac, Type: header.IPv4ProtocolNumber})
		ip := header.IPv4(frame[header.EthernetMinimumSize:])
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(iphdr + len(icmp)),
			TTL:         64,
			Protocol:    uint8(header.ICMPv4ProtocolNumber),
			SrcAddr:     tcpipAddr(dst),
			DstAddr:     tcpipAddr(to.addr),
		})
		ip.SetChecksum(^ip.CalculateChecksum())
		m := header.ICMPv4(body)
		m.SetChecksum(0)
		m.SetChecksum(^checksum.Checksum(body, 0))
		return frame
	}
	eth.Encode(&header.EthernetFields{SrcAddr: gw, DstAddr: to.mac, Type: header.IPv6ProtocolNumber})
	ip := header.IPv6(frame[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv6Fields{
		PayloadLength:     uint16(len(icmp)),
		TransportProtocol: header.ICMPv6ProtocolNumber,
		HopLimit:          64,
		SrcAddr:           tcpipAddr(dst),
		DstAddr:           tcpipAddr(to.addr),
	})
	m := header.ICMPv6(body)
	m.SetChecksum(0)
	m.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{
		Header:      m[:header.ICMPv6MinimumSize],
		Src:         tcpipAddr(dst),
		Dst:         tcpipAddr(to.addr),
		PayloadCsum: checksum.Checksum(m[header.ICMPv6MinimumSize:], 0),
		PayloadLen:  len(m) - header.ICMPv6MinimumSize,
	}))
	return frame
}
