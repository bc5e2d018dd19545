package container

import (
	"errors"
	"testing"
)

func TestParseSysctls(t *testing.T) {
	for _, tc := range []struct {
		flag, network, ipc string
		ok                 bool
	}{
		{"net.ipv4.ip_unprivileged_port_start=80", "", "", true},
		{"kernel.shmmax=1000000", "", "", true},
		{"kernel.msgmax=1000", "", "", true},
		{"kernel.sem=250 32000 32 128", "", "", true},
		{"fs.mqueue.msg_max=20", "", "", true},
		{"net.ipv4.ip_forward=1", NetworkHost, "", false},
		{"kernel.shmmax=1", "", "host", false},
		{"kernel.hostname=x", "", "", false},
		{"vm.swappiness=1", "", "", false},
		{"kernel.domainname=x", "", "", false},
		{"net/../../x=1", "", "", false},
		{"net.ipv4.ip_forward", "", "", false},
	} {
		got, err := ParseSysctls([]string{tc.flag}, tc.network, tc.ipc)
		if tc.ok != (err == nil) {
			t.Errorf("ParseSysctls(%q, network %q, ipc %q) = %v, %v; want ok %v", tc.flag, tc.network, tc.ipc, got, err, tc.ok)
		}
		if err != nil && tc.flag != "net.ipv4.ip_forward" && tc.flag != "net/../../x=1" && !errors.Is(err, ErrSysctl) {
			t.Errorf("%q: error %v is not ErrSysctl", tc.flag, err)
		}
	}
}
