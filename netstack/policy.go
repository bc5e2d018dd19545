package netstack

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// errBlocked is the answer to a container that asks for the host's
// private side: the connection is refused.
var errBlocked = errors.New("destination not reachable from a container")

// Blocked ranges: the host's loopback in every spelling, the unspecified
// address (which Linux connects to loopback), link-local (the cloud
// metadata service at 169.254.169.254 lives there) and multicast.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
	// IPv4-compatible (deprecated) and NAT64 spellings of the above.
	netip.MustParsePrefix("::127.0.0.0/104"),
	netip.MustParsePrefix("64:ff9b::7f00:0/104"),
	netip.MustParsePrefix("64:ff9b::a9fe:0/112"),
}

// destination says where on the host a flow the container sent to dst
// goes, or errBlocked.
func (c Config) destination(dst netip.Addr) (netip.Addr, error) {
	dst = dst.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	p := c.plan()
	if p.internal {
		// An internal network has no way out at all.
		return netip.Addr{}, errBlocked
	}
	if dst.IsValid() && (dst == p.gateway || dst == p.gateway6) {
		if !c.AllowHostLoopback {
			return netip.Addr{}, errBlocked
		}
		if dst == p.gateway6 {
			return netip.IPv6Loopback(), nil
		}
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	if p.onLink(dst) || Subnet.Contains(dst) || Subnet6.Contains(dst) {
		// Nothing else lives on the container's link.
		return netip.Addr{}, errBlocked
	}
	for _, p := range blocked {
		if p.Contains(dst) {
			return netip.Addr{}, errBlocked
		}
	}
	return dst, nil
}

// bypassTo says whether the container's TCP connect to dst may skip the
// stack and be made by a host socket (bypass_linux.go). The host socket
// connects to dst itself, so only a destination the stack would dial
// unchanged qualifies: not the gateway (even when it stands for the
// host's loopback), the resolver or anything else on the container's
// link, nothing the policy refuses, and no IPv6 for a container without
// it. A v4-mapped address is judged as the IPv4 address it is. Everything
// else goes the stack's way, which refuses what must be refused.
func (c Config) bypassTo(dst netip.AddrPort) bool {
	a := dst.Addr().Unmap().WithZone("")
	if dst.Port() == 0 || !a.IsValid() || (a.Is6() && !c.IPv6) {
		return false
	}
	if c.plan().onLink(a) || Subnet.Contains(a) || Subnet6.Contains(a) {
		return false
	}
	to, err := c.destination(a)
	return err == nil && to == a
}

// hostHasIPv6 says whether the host has an IPv6 default route, so that a
// container given IPv6 could use it.
func hostHasIPv6() bool {
	b, err := os.ReadFile("/proc/net/ipv6_route")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Destination ::/0 on an interface other than lo, up (RTF_UP) and
		// not an unreachable route (RTF_REJECT).
		if len(f) == 10 && f[0] == strings.Repeat("0", 32) && f[1] == "00" && f[9] != "lo" {
			if flags, err := strconv.ParseUint(f[8], 16, 32); err == nil && flags&0x1 != 0 && flags&0x200 == 0 {
				return true
			}
		}
	}
	return false
}
