package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ping sends one ICMP echo request and prints where the reply came from.
func ping(args []string) error {
	fs := newFlags("ping")
	timeout := fs.Duration("timeout", 5*time.Second, "for the lookup and the reply together")
	pos, err := parseArgs(fs, args, "HOST")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupNetIP(ctx, "ip", pos[0])
	if err != nil {
		return err
	}
	dst := addrs[0].Unmap()
	for _, a := range addrs {
		if a.Unmap().Is4() {
			dst = a.Unmap()
			break
		}
	}
	deadline, _ := ctx.Deadline()
	start := time.Now()
	from, kind, err := echo(dst, deadline)
	if err != nil {
		return fmt.Errorf("ping %s: %w", dst, err)
	}
	fmt.Printf("reply from %s in %s (%s socket)\n", from, time.Since(start).Round(time.Microsecond), kind)
	return nil
}

// ICMP message types of echo and echo reply.
const (
	icmpEcho        = 8
	icmpEchoReply   = 0
	icmpv6Echo      = 128
	icmpv6EchoReply = 129
)

// echoRequest builds an ICMP (or ICMPv6) echo request. The ICMPv4
// checksum is filled in; the kernel computes the ICMPv6 one, which covers
// a pseudo-header of addresses only it knows for sure.
func echoRequest(v6 bool, id, seq uint16, data []byte) []byte {
	b := make([]byte, 8+len(data))
	b[0] = icmpEcho
	if v6 {
		b[0] = icmpv6Echo
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], data)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b, 0))
	}
	return b
}

// parseEchoReply reads an echo reply as a socket returns it: a raw IPv4
// socket includes the IP header, the others start at the ICMP header.
func parseEchoReply(b []byte, v6, rawIPv4 bool) (id, seq uint16, ok bool) {
	if rawIPv4 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return 0, 0, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return 0, 0, false
		}
		b = b[ihl:]
	}
	want := byte(icmpEchoReply)
	if v6 {
		want = icmpv6EchoReply
	}
	if len(b) < 8 || b[0] != want || b[1] != 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), true
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the
// partial sum initial (a pseudo-header's).
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// pseudoSum is the partial checksum of the TCP/UDP pseudo-header.
func pseudoSum(src, dst netip.Addr, proto byte, length int) uint32 {
	var sum uint32
	for _, a := range [][]byte{src.AsSlice(), dst.AsSlice()} {
		for i := 0; i+1 < len(a); i += 2 {
			sum += uint32(a[i])<<8 | uint32(a[i+1])
		}
	}
	return sum + uint32(proto) + uint32(length)
}
