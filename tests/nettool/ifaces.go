package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ifaces prints the interfaces, their addresses and the routing tables.
func ifaces(args []string) error {
	if _, err := parseArgs(newFlags("ifaces"), args); err != nil {
		return err
	}
	list, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, ifi := range list {
		fmt.Printf("iface %s mtu %d flags %s\n", ifi.Name, ifi.MTU, ifi.Flags)
		addrs, err := ifi.Addrs()
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			fmt.Printf("addr %s %s\n", ifi.Name, a)
		}
	}
	for _, t := range []struct {
		file  string
		parse func(io.Reader) ([]route, error)
	}{
		{"/proc/net/route", parseRoutes4},
		{"/proc/net/ipv6_route", parseRoutes6},
	} {
		f, err := os.Open(t.file)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6 in this kernel or namespace
		}
		if err != nil {
			return err
		}
		routes, err := t.parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", t.file, err)
		}
		for _, r := range routes {
			fmt.Println(r)
		}
	}
	return nil
}

// route is one line of a kernel routing table.
type route struct {
	dst netip.Prefix
	gw  netip.Addr // invalid for a directly connected network
	dev string
}

// String gives the line nettool prints: "route default via 10.0.2.2 dev
// eth0", "route6 fd00::/64 dev eth0".
func (r route) String() string {
	var b strings.Builder
	b.WriteString("route")
	if r.dst.Addr().Is6() {
		b.WriteString("6")
	}
	if r.dst.Bits() == 0 {
		b.WriteString(" default")
	} else {
		b.WriteString(" " + r.dst.String())
	}
	if r.gw.IsValid() {
		b.WriteString(" via " + r.gw.String())
	}
	b.WriteString(" dev " + r.dev)
	return b.String()
}

// Route flags of <linux/route.h>.
const (
	rtfUp      = 0x0001
	rtfGateway = 0x0002
)

// parseRoutes4 reads /proc/net/route: a header line, then Iface,
// Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, ... with the
// addresses as hexadecimal 32-bit numbers in host byte order.
func parseRoutes4(r io.Reader) ([]route, error) {
	sc := bufio.NewScanner(r)
	var out []route
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 8 {
			continue
		}
		dst, err1 := hexIPv4(f[1])
		gw, err2 := hexIPv4(f[2])
		flags, err3 := strconv.ParseUint(f[3], 16, 32)
		mask, err4 := hexIPv4(f[7])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("line %q: %w", sc.Text(), err)
		}
		if flags&rtfUp == 0 {
			continue
		}
		bits, _ := net.IPMask(mask.AsSlice()).Size()
		rt := route{dst: netip.PrefixFrom(dst, bits), dev: f[0]}
		if flags&rtfGateway != 0 {
			rt.gw = gw
		}
		out = append(out, rt)
	}
	return out, sc.Err()
}

func hexIPv4(s string) (netip.Addr, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, err
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), nil
}

// parseRoutes6 reads /proc/net/ipv6_route: destination, its prefix
// length, source, its prefix length, next hop, metric, reference count,
// use count, flags and device, addresses as 32 hexadecimal digits. The
// routes of the loopback device (local addresses, unreachable defaults)
// are left out.
func parseRoutes6(r io.Reader) ([]route, error) {
	sc := bufio.NewScanner(r)
	var out []route
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		dst, err1 := hexIPv6(f[0])
		bits, err2 := strconv.ParseUint(f[1], 16, 8)
		gw, err3 := hexIPv6(f[4])
		flags, err4 := strconv.ParseUint(f[8], 16, 32)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("line %q: %w", sc.Text(), err)
		}
		if flags&rtfUp == 0 || f[9] == "lo" || bits > 128 {
			continue
		}
		rt := route{dst: netip.PrefixFrom(dst, int(bits)), dev: f[9]}
		if flags&rtfGateway != 0 && !gw.IsUnspecified() {
			rt.gw = gw
		}
		out = append(out, rt)
	}
	return out, sc.Err()
}

func hexIPv6(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(b) != 16 {
		return netip.Addr{}, fmt.Errorf("address %q is not 16 bytes", s)
	}
	return netip.AddrFrom16([16]byte(b)), nil
}
