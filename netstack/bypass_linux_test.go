package netstack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestParseSockaddr(t *testing.T) {
	in4 := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{192, 0, 2, 7}}
	in4.Port = htons(80)
	in6 := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: netip.MustParseAddr("::ffff:192.0.2.7").As16()}
	in6.Port = htons(443)
	un := unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	for _, tc := range []struct {
		name   string
		b      []byte
		family int
		want   string
		ok     bool
	}{
		{"inet", unsafe.Slice((*byte)(unsafe.Pointer(&in4)), unix.SizeofSockaddrInet4), unix.AF_INET, "192.0.2.7:80", true},
		{"inet6 v4-mapped", unsafe.Slice((*byte)(unsafe.Pointer(&in6)), unix.SizeofSockaddrInet6), unix.AF_INET6, "[::ffff:192.0.2.7]:443", true},
		{"inet6 short", unsafe.Slice((*byte)(unsafe.Pointer(&in6)), 24), 0, "", false},
		{"unix", unsafe.Slice((*byte)(unsafe.Pointer(&un)), 110), 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			family, dst, ok := parseSockaddr(tc.b)
			if ok != tc.ok || (ok && (family != tc.family || dst.String() != tc.want)) {
				t.Errorf("parseSockaddr = %d, %s, %v; want %d, %s, %v", family, dst, ok, tc.family, tc.want, tc.ok)
			}
		})
	}
}

func TestParseOptionsBypass(t *testing.T) {
	// Off by default: the handed socket is the host's (issue 12).
	c, err := ParseOptions("")
	if err != nil || c.Bypass {
		t.Errorf("default: Bypass = %v (%v), want off", c.Bypass, err)
	}
	c, err = ParseOptions("bypass=true")
	if err != nil || !c.Bypass {
		t.Errorf("bypass=true: Bypass = %v (%v), want on", c.Bypass, err)
	}
	c, err = ParseOptions("bypass=false")
	if err != nil || c.Bypass {
		t.Errorf("bypass=false: Bypass = %v (%v), want off", c.Bypass, err)
	}
	if _, err := ParseOptions("bypass=maybe"); err == nil {
		t.Error("bypass=maybe: no error")
	}
}

func htons(p uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, p)) }
