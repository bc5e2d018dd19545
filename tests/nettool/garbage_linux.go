package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// garbage sends malformed frames on an interface.
func garbage(args []string) error {
	fs := newFlags("garbage")
	seed := fs.Uint64("seed", 0, "seed of the frame generator (default: from the clock)")
	pos, err := parseArgs(fs, args, "IFACE", "N")
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(pos[1])
	if err != nil || count < 0 {
		return fmt.Errorf("garbage: count %q, want a number", pos[1])
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	ifi, err := net.InterfaceByName(pos[0])
	if err != nil {
		return err
	}
	l, err := linkOf(ifi)
	if err != nil {
		return err
	}

	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)

	g := newFrameGen(l, *seed)
	sent := 0
	failed := map[string]int{}
	var firstErr error
	for i := range count {
		f := g.frame(i)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(f.proto)}
		if err := unix.Sendto(fd, f.data, 0, to); err != nil {
			var errno unix.Errno
			name := err.Error()
			if errors.As(err, &errno) {
				name = unix.ErrnoName(errno)
			}
			failed[f.kind+" "+name]++
			if firstErr == nil {
				firstErr = fmt.Errorf("send %s frame of %d bytes: %w", f.kind, len(f.data), err)
			}
		} else {
			sent++
		}
		// A short pause now and then lets the stack read what it was
		// sent instead of the device dropping most of it.
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	var fails []string
	for k, n := range failed {
		fails = append(fails, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(fails)
	fmt.Printf("sent %d of %d frames to %s (seed %d)\n", sent, count, ifi.Name, *seed)
	if len(fails) > 0 {
		fmt.Printf("refused by the kernel: %s\n", strings.Join(fails, ", "))
	}
	if sent == 0 && count > 0 {
		return firstErr
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// linkOf gathers the addresses of the interface and of the stack behind
// it: the default gateways, the DNS server and the gateway's MAC address.
func linkOf(ifi *net.Interface) (link, error) {
	l := link{
		ether:  len(ifi.HardwareAddr) == 6,
		mtu:    ifi.MTU,
		srcMAC: ifi.HardwareAddr,
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return l, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP)
		ip = ip.Unmap()
		switch {
		case ip.Is4() && !l.src4.IsValid():
			l.src4 = ip
		case ip.Is6() && (!l.src6.IsValid() || l.src6.IsLinkLocalUnicast()):
			l.src6 = ip
		}
	}
	for file, parse := range map[string]func(*os.File) ([]route, error){
		"/proc/net/route":      func(f *os.File) ([]route, error) { return parseRoutes4(f) },
		"/proc/net/ipv6_route": func(f *os.File) ([]route, error) { return parseRoutes6(f) },
	} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		routes, _ := parse(f)
		f.Close()
		for _, r := range routes {
			if r.dev != ifi.Name || r.dst.Bits() != 0 || !r.gw.IsValid() {
				continue
			}
			if r.gw.Is4() {
				l.gw4 = r.gw
			} else {
				l.gw6 = r.gw
			}
		}
	}
	l.dns = nameserver("/etc/resolv.conf")
	if l.ether && l.gw4.IsValid() {
		l.dstMAC = gatewayMAC(l.gw4, ifi.Name)
	}
	return l, nil
}

// nameserver returns the first IPv4 nameserver of a resolv.conf.
func nameserver(path string) netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return netip.Addr{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil && a.Is4() {
				return a
			}
		}
	}
	return netip.Addr{}
}

// gatewayMAC makes the kernel resolve the gateway's link address with a
// datagram to the discard port, then reads it from /proc/net/arp. Frames
// to that address reach the stack's IP layer; without it they go to the
// broadcast address.
func gatewayMAC(gw netip.Addr, dev string) net.HardwareAddr {
	if c, err := net.Dial("udp", netip.AddrPortFrom(gw, 9).String()); err == nil {
		_, _ = c.Write([]byte("nettool")) // best effort: without the entry, frames go to the broadcast address
		c.Close()
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/net/arp")
		if err != nil {
			return nil
		}
		if mac := arpEntry(string(b), gw, dev); mac != nil {
			return mac
		}
	}
	return nil
}

// arpEntry finds a complete entry in /proc/net/arp: IP address, HW type,
// flags, HW address, mask, device.
func arpEntry(table string, ip netip.Addr, dev string) net.HardwareAddr {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != ip.String() || f[5] != dev {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil || flags&0x2 == 0 { // ATF_COM: complete
			continue
		}
		if mac, err := net.ParseMAC(f[3]); err == nil && len(mac) == 6 {
			return mac
		}
	}
	return nil
}
