package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestARPEntry(t *testing.T) {
	const table = `IP address       HW type     Flags       HW address            Mask     Device
10.0.2.9         0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.2.2         0x1         0x2         52:55:0a:00:02:02     *        eth1
10.0.2.2         0x1         0x2         52:55:0a:00:02:03     *        eth0
`
	if mac := arpEntry(table, netip.MustParseAddr("10.0.2.2"), "eth0"); mac.String() != "52:55:0a:00:02:03" {
		t.Errorf("gateway MAC %v, want the eth0 entry", mac)
	}
	if mac := arpEntry(table, netip.MustParseAddr("10.0.2.9"), "eth0"); mac != nil {
		t.Errorf("incomplete entry gave %v", mac)
	}
}

func TestNameserver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("# x\nsearch example\nnameserver fd00::3\nnameserver 10.0.2.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := nameserver(p); got != netip.MustParseAddr("10.0.2.3") {
		t.Errorf("nameserver %v, want 10.0.2.3", got)
	}
}
