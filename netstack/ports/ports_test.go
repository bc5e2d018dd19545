package ports

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	addrEq = cmpopts.EquateComparable(netip.Addr{})

	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  []Mapping
	}{
		{"container port only", []string{"80"}, []Mapping{{ContainerPort: 80, Protocol: "tcp"}}},
		{"host and container", []string{"8080:80"}, []Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"udp", []string{"53:53/udp"}, []Mapping{{HostPort: 53, ContainerPort: 53, Protocol: "udp"}}},
		{"upper-case protocol", []string{"53/UDP"}, []Mapping{{ContainerPort: 53, Protocol: "udp"}}},
		{"empty protocol", []string{"80/"}, []Mapping{{ContainerPort: 80, Protocol: "tcp"}}},
		{"ip", []string{"127.0.0.1:8080:80"}, []Mapping{{HostIP: lo4, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ip ephemeral", []string{"127.0.0.1::80"}, []Mapping{{HostIP: lo4, ContainerPort: 80, Protocol: "tcp"}}},
		{"host port 0", []string{"0:80"}, []Mapping{{ContainerPort: 80, Protocol: "tcp"}}},
		{"ipv6 brackets", []string{"[::1]:8080:80"}, []Mapping{{HostIP: lo6, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ipv6 ephemeral", []string{"[::1]::80/udp"}, []Mapping{{HostIP: lo6, ContainerPort: 80, Protocol: "udp"}}},
		{"ipv6 bare", []string{"::1:8080:80"}, []Mapping{{HostIP: lo6, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ipv4-mapped", []string{"[::ffff:127.0.0.1]:8080:80"}, []Mapping{{HostIP: lo4, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ranges", []string{"8000-8002:80-82"}, []Mapping{
			{HostPort: 8000, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 8001, ContainerPort: 81, Protocol: "tcp"},
			{HostPort: 8002, ContainerPort: 82, Protocol: "tcp"},
		}},
		{"container range ephemeral", []string{"80-81/udp"}, []Mapping{
			{ContainerPort: 80, Protocol: "udp"},
			{ContainerPort: 81, Protocol: "udp"},
		}},
		{"host range one container port", []string{"8000-8010:80"}, []Mapping{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: "tcp"}}},
		{"same port tcp and udp", []string{"53:53", "53:53/udp"}, []Mapping{
			{HostPort: 53, ContainerPort: 53, Protocol: "tcp"},
			{HostPort: 53, ContainerPort: 53, Protocol: "udp"},
		}},
		{"same port different ips", []string{"127.0.0.1:80:80", "127.0.0.2:80:81"}, []Mapping{
			{HostIP: lo4, HostPort: 80, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: netip.MustParseAddr("127.0.0.2"), HostPort: 80, ContainerPort: 81, Protocol: "tcp"},
		}},
		{"same port each family", []string{"0.0.0.0:80:80", "[::]:80:80"}, []Mapping{
			{HostIP: netip.IPv4Unspecified(), HostPort: 80, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: netip.IPv6Unspecified(), HostPort: 80, ContainerPort: 80, Protocol: "tcp"},
		}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.specs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, addrEq); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.specs, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  string // in the error
	}{
		{"empty", []string{""}, "no container port"},
		{"no container port", []string{"8080:"}, "no container port"},
		{"not a number", []string{"http"}, `invalid port "http"`},
		{"too big", []string{"65536"}, `invalid port "65536"`},
		{"container port 0", []string{"0"}, "container port 0"},
		{"sctp", []string{"80/sctp"}, `unsupported protocol "sctp"`},
		{"bad ip", []string{"300.1.1.1:80:80"}, "invalid IP address 300.1.1.1"},
		{"hostname", []string{"localhost:80:80"}, "invalid IP address localhost"},
		{"unclosed bracket", []string{"[::1:80:80"}, "unclosed bracket"},
		{"zone", []string{"[fe80::1%eth0]:80:80"}, "invalid IP address"},
		{"backwards range", []string{"90-80"}, "ends before it starts"},
		{"unequal ranges", []string{"8000-8001:80-82"}, "differ in length"},
		{"duplicate", []string{"8080:80", "8080:81"}, "host port 8080/tcp is published twice, by -p 8080:80/tcp and -p 8080:81/tcp"},
		{"duplicate all and ip", []string{"8080:80", "127.0.0.1:8080:81"}, "published twice"},
		{"duplicate in range", []string{"8000-8001:80-81", "8001:90"}, "published twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.specs)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error with %q", tt.specs, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want it to contain %q", tt.specs, err, tt.want)
			}
		})
	}
	// Parse errors name the spec and the syntax.
	_, err := Parse([]string{"80/sctp"})
	if got := err.Error(); !strings.Contains(got, `-p "80/sctp"`) || !strings.Contains(got, Syntax) {
		t.Errorf("error %q does not name the spec and the syntax", got)
	}
}

func TestExposed(t *testing.T) {
	got, err := Exposed(map[string]struct{}{"8080": {}, "53/udp": {}, "80/tcp": {}, "53/tcp": {}, "80": {}, "9000-9001/tcp": {}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{ContainerPort: 53, Protocol: "tcp"},
		{ContainerPort: 53, Protocol: "udp"},
		{ContainerPort: 80, Protocol: "tcp"},
		{ContainerPort: 8080, Protocol: "tcp"},
		{ContainerPort: 9000, Protocol: "tcp"},
		{ContainerPort: 9001, Protocol: "tcp"},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("Exposed (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"http/tcp", "80/sctp", "0/tcp", ""} {
		if _, err := Exposed(map[string]struct{}{bad: {}}); err == nil {
			t.Errorf("Exposed(%q) succeeded, want an error", bad)
		}
	}
}

func TestMerge(t *testing.T) {
	explicit := []Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
	exposed := []Mapping{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 80, Protocol: "udp"}, {ContainerPort: 443, Protocol: "tcp"}}
	want := []Mapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{ContainerPort: 80, Protocol: "udp"},
		{ContainerPort: 443, Protocol: "tcp"},
	}
	if diff := cmp.Diff(want, Merge(explicit, exposed), addrEq); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		m    Mapping
		want string
	}{
		{Mapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "80/tcp -> 0.0.0.0:8080"},
		{Mapping{HostIP: lo4, HostPort: 5353, ContainerPort: 53, Protocol: "udp"}, "53/udp -> 127.0.0.1:5353"},
		{Mapping{HostIP: lo6, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "80/tcp -> [::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	ms := []Mapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: lo6, HostPort: 53, ContainerPort: 53, Protocol: "udp"},
	}
	b, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostIP":"::1","hostPort":53,"containerPort":53,"protocol":"udp"}]`
	if diff := cmp.Diff(wantJSON, string(b)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	var got []Mapping
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ms, got, addrEq); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// unprivileged makes Listen see an ordinary user and the sysctl at start.
func unprivileged(t *testing.T, start string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ip_unprivileged_port_start")
	if err := os.WriteFile(p, []byte(start+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldPath, oldCan := unprivilegedPortStartPath, canBindPrivileged
	unprivilegedPortStartPath, canBindPrivileged = p, func() bool { return false }
	t.Cleanup(func() { unprivilegedPortStartPath, canBindPrivileged = oldPath, oldCan })
}

func TestListen(t *testing.T) {
	unprivileged(t, "1024")
	ls, err := Listen([]Mapping{
		{HostIP: lo4, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: lo4, ContainerPort: 53, Protocol: "udp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	if len(ls) != 2 || ls[0].TCP == nil || ls[1].UDP == nil {
		t.Fatalf("Listen = %+v, want a TCP and a UDP listener", ls)
	}
	for _, l := range ls {
		if l.Mapping.HostPort == 0 {
			t.Errorf("%v: host port not filled in", l.Mapping)
		}
	}
	c, err := net.Dial("tcp", ls[0].TCP.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A host range skips the port in use: hold a port whose successor is
	// free, found by trying, so the range case always runs. The ports are
	// below the kernel's ephemeral range (32768 up), where a host that
	// just made thousands of connections holds no client sockets in
	// TIME-WAIT.
	var busyL net.Listener
	var busy uint16
	for p := uint16(20000 + rand.IntN(10000)); p < 32000 && busyL == nil; p += 2 {
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		if next, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			next.Close()
			busyL, busy = l, p
			continue
		}
		l.Close()
	}
	if busyL == nil {
		t.Fatal("found no port with a free successor in 20000-32000")
	}
	defer busyL.Close()
	rl, err := Listen([]Mapping{{HostIP: lo4, HostPort: busy, HostPortEnd: busy + 1, ContainerPort: 80, Protocol: "tcp"}})
	if err != nil {
		t.Fatalf("Listen of range %d-%d with %d in use: %v", busy, busy+1, busy, err)
	}
	defer rl[0].Close()
	if got, want := rl[0].Mapping, (Mapping{HostIP: lo4, HostPort: busy + 1, ContainerPort: 80, Protocol: "tcp"}); got != want {
		t.Errorf("range Listen mapping = %+v, want %+v", got, want)
	}
}

func TestListenErrors(t *testing.T) {
	unprivileged(t, "1024")
	taken, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := uint16(taken.Addr().(*net.TCPAddr).Port)

	tests := []struct {
		name string
		ms   []Mapping
		want string
	}{
		{"foreign ip", []Mapping{{HostIP: netip.MustParseAddr("192.0.2.7"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			"host IP 192.0.2.7 in -p 192.0.2.7:8080:80/tcp is not an address of this machine"},
		{"privileged", []Mapping{{HostPort: 80, ContainerPort: 80, Protocol: "tcp"}},
			"below sysctl net.ipv4.ip_unprivileged_port_start=1024 and lodger lacks CAP_NET_BIND_SERVICE; publish a higher port, such as -p 8080:80"},
		{"in use", []Mapping{{HostIP: lo4, HostPort: takenPort, ContainerPort: 80, Protocol: "tcp"}},
			"is already in use: pick another with -p HOSTPORT:80"},
		{"duplicate", []Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 8080, ContainerPort: 81, Protocol: "tcp"}},
			"published twice"},
		{"bad protocol", []Mapping{{ContainerPort: 80, Protocol: "sctp"}}, `protocol "sctp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, err := Listen(tt.ms)
			if err == nil {
				for _, l := range ls {
					l.Close()
				}
				t.Fatalf("Listen succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Listen = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestListenAllOrNothing checks that a failure closes what was opened.
func TestListenAllOrNothing(t *testing.T) {
	unprivileged(t, "1024")
	probe, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(probe.Addr().(*net.TCPAddr).Port)
	probe.Close()

	_, err = Listen([]Mapping{
		{HostIP: lo4, HostPort: port, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: netip.MustParseAddr("192.0.2.7"), ContainerPort: 81, Protocol: "tcp"},
	})
	if err == nil {
		t.Fatal("Listen succeeded, want an error")
	}
	again, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
	if err != nil {
		t.Fatalf("port %d still bound after the failed Listen: %v", port, err)
	}
	again.Close()
}
