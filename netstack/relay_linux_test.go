package netstack

import (
	"net/netip"
	"testing"
)

func TestRelayHeader(t *testing.T) {
	for _, h := range []relayHeader{
		{netip.MustParseAddrPort("192.0.2.7:4000"), netip.MustParseAddrPort("192.0.2.7:4000"), netip.MustParseAddrPort("10.89.1.2:53")},
		{netip.MustParseAddrPort("[::1]:5"), netip.MustParseAddrPort("10.89.1.1:5"), netip.MustParseAddrPort("10.89.1.2:53")},
		{netip.MustParseAddrPort("[::ffff:192.0.2.1]:9"), netip.MustParseAddrPort("[2001:db8::1]:9"), netip.MustParseAddrPort("[fd00::2]:53")},
	} {
		b := make([]byte, relayHeaderLen+3)
		h.put(b)
		copy(b[relayHeaderLen:], "abc")
		got, payload, ok := parseRelayHeader(b)
		if !ok || got != h || string(payload) != "abc" {
			t.Errorf("round trip of %+v: %+v %q %v", h, got, payload, ok)
		}
	}
	if _, _, ok := parseRelayHeader(make([]byte, relayHeaderLen-1)); ok {
		t.Error("a short message parsed")
	}
	if _, _, ok := parseRelayHeader(make([]byte, relayHeaderLen)); ok {
		t.Error("a header of zero address lengths parsed")
	}
}

// The gateway relays only to a container on its network, and never as a
// neighbour: a relayed datagram comes from outside, or from the gateway.
func TestRelayAllowed(t *testing.T) {
	st := &Stack{plan: Config{LAN: &LAN{Subnet: netip.MustParsePrefix("10.89.1.0/24"), Gateway: netip.MustParseAddr("10.89.1.1")}}.plan()}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"192.0.2.7", "10.89.1.2", true},
		{"10.89.1.1", "10.89.1.2", true},
		{"10.89.1.3", "10.89.1.2", false}, // a neighbour
		{"192.0.2.7", "10.89.1.1", false}, // the gateway itself
		{"192.0.2.7", "10.89.2.2", false}, // off the network
		{"192.0.2.7", "192.0.2.8", false},
		{"2001:db8::1", "10.89.1.2", false},
	} {
		if got := st.relayAllowed(a(tc.from), a(tc.to)); got != tc.want {
			t.Errorf("relay from %s to %s: %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
