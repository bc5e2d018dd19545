package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// echo sends one echo request to dst and waits for the reply until
// deadline. It tries an unprivileged ICMP datagram socket first, which
// net.ipv4.ping_group_range must allow for our group, then a raw socket,
// which needs CAP_NET_RAW. It returns the reply's source and the kind of
// socket used.
func echo(dst netip.Addr, deadline time.Time) (netip.Addr, string, error) {
	v6 := dst.Is6()
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	kind := "datagram"
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		var rawErr error
		kind = "raw"
		fd, rawErr = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if rawErr != nil {
			return netip.Addr{}, "", fmt.Errorf("ICMP datagram socket: %v; raw socket: %v", err, rawErr)
		}
	}
	defer unix.Close(fd)

	var to unix.Sockaddr
	if v6 {
		to = &unix.SockaddrInet6{Addr: dst.As16()}
	} else {
		to = &unix.SockaddrInet4{Addr: dst.As4()}
	}
	// A datagram socket's kernel replaces the identifier with the
	// socket's and delivers only the matching replies; a raw socket gets
	// every ICMP message, so match ours by identifier and sequence.
	id, seq := uint16(os.Getpid()), uint16(1)
	req := echoRequest(v6, id, seq, []byte("nettool ping"))
	if err := unix.Sendto(fd, req, 0, to); err != nil {
		return netip.Addr{}, "", fmt.Errorf("send echo request (%s socket): %w", kind, err)
	}
	buf := make([]byte, 64<<10)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return netip.Addr{}, "", fmt.Errorf("no echo reply (%s socket): timed out", kind)
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return netip.Addr{}, "", err
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return netip.Addr{}, "", fmt.Errorf("receive echo reply (%s socket): %w", kind, err)
		}
		gotID, gotSeq, ok := parseEchoReply(buf[:n], v6, kind == "raw" && !v6)
		if !ok || gotSeq != seq || (kind == "raw" && gotID != id) {
			continue
		}
		var src netip.Addr
		switch sa := from.(type) {
		case *unix.SockaddrInet4:
			src = netip.AddrFrom4(sa.Addr)
		case *unix.SockaddrInet6:
			src = netip.AddrFrom16(sa.Addr).Unmap()
		}
		if kind == "raw" && src != dst {
			continue
		}
		return src, kind, nil
	}
}
