package netstack

import (
	"net/netip"
	"testing"
)

func TestBypassTo(t *testing.T) {
	v4 := Config{}
	v6 := Config{IPv6: true}
	loop := Config{IPv6: true, AllowHostLoopback: true}
	for _, tc := range []struct {
		dst  string
		cfg  Config
		want bool
	}{
		{"192.0.2.7:80", v4, true},
		{"93.184.216.34:443", v4, true},
		{"[::ffff:192.0.2.7]:80", v4, true}, // judged as IPv4, IPv6 or not
		{"192.0.2.7:0", v4, false},
		// The stack's own addresses and the container's link.
		{"10.0.2.2:80", v4, false},
		{"10.0.2.2:80", loop, false}, // the gateway stands for loopback: the stack's way
		{"10.0.2.3:53", v4, false},
		{"10.0.2.100:80", v4, false},
		{"10.0.2.77:80", v4, false},
		{"[::ffff:10.0.2.2]:80", v4, false},
		{"[fd4c:6f64:6765::2]:80", v6, false},
		{"[fd4c:6f64:6765::3]:53", v6, false},
		{"[fd4c:6f64:6765::9]:80", v6, false},
		// What the policy refuses.
		{"127.0.0.1:80", v4, false},
		{"127.0.0.1:80", loop, false},
		{"[::ffff:127.0.0.1]:80", v4, false},
		{"0.0.0.0:80", v4, false},
		{"169.254.169.254:80", v4, false},
		{"224.0.0.1:80", v4, false},
		{"255.255.255.255:80", v4, false},
		{"[::1]:80", v6, false},
		{"[::]:80", v6, false},
		{"[fe80::1%eth0]:80", v6, false},
		{"[ff02::1]:80", v6, false},
		{"[::127.0.0.1]:80", v6, false},
		{"[64:ff9b::7f00:1]:80", v6, false},
		{"[64:ff9b::a9fe:a9fe]:80", v6, false},
		// IPv6 only for a container that has it.
		{"[2001:db8::1]:80", v6, true},
		{"[2001:db8::1]:80", v4, false},
	} {
		t.Run(tc.dst, func(t *testing.T) {
			if got := tc.cfg.bypassTo(netip.MustParseAddrPort(tc.dst)); got != tc.want {
				t.Errorf("bypassTo(%s) with IPv6=%v, allow_host_loopback=%v = %v, want %v", tc.dst, tc.cfg.IPv6, tc.cfg.AllowHostLoopback, got, tc.want)
			}
		})
	}
}
