package container

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseProcess(t *testing.T) {
	p, err := parseProcess(ProcessOptions{
		Ulimits:    []string{"nofile=100:200", "core=0"},
		StopSignal: "SIGUSR1",
		AddHosts:   []string{"db:10.1.2.3", "v6:[::1]", "eq=192.0.2.1"},
		Labels:     map[string]string{"a": "b", "empty": ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRl := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
	if diff := cmp.Diff(wantRl, p.rlimits); diff != "" {
		t.Errorf("rlimits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.1.2.3\tdb", "::1\tv6", "192.0.2.1\teq"}, p.hosts); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "b", "empty": ""}, p.labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// The library names no flag: an option it refuses is an *OptionError
// saying which option and value, which each front end words its own way.
func TestParseProcessErrorsNameTheOption(t *testing.T) {
	tests := []struct {
		opt     Option
		subject string
		o       ProcessOptions
	}{
		{OptUlimit, `"bogus=1"`, ProcessOptions{Ulimits: []string{"bogus=1"}}},
		{OptUlimit, `"nofile=x"`, ProcessOptions{Ulimits: []string{"nofile=x"}}},
		{OptStopSignal, `"SIGNOPE"`, ProcessOptions{StopSignal: "SIGNOPE"}},
		{OptAddHost, `"nohost"`, ProcessOptions{AddHosts: []string{"nohost"}}},
		{OptAddHost, `"h:not-an-ip"`, ProcessOptions{AddHosts: []string{"h:not-an-ip"}}},
		{OptDNS, `"dns.example"`, ProcessOptions{DNS: []string{"dns.example"}}},
		{OptAnnotation, `"=v"`, ProcessOptions{Annotations: []string{"=v"}}},
		{OptPID, `"container:x"`, ProcessOptions{PID: "container:x"}},
		{OptCgroupns, `"both"`, ProcessOptions{Cgroupns: "both"}},
	}
	for _, tt := range tests {
		_, err := parseProcess(tt.o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tt.opt || oe.Subject != tt.subject || oe.Reason == "" {
			t.Errorf("parseProcess(%+v) = %v (%T), want an *OptionError of %v %s", tt.o, err, err, tt.opt, tt.subject)
			continue
		}
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "--") {
			t.Errorf("parseProcess(%+v) = %q, want an ErrInvalid naming no flag", tt.o, err)
		}
		if got, want := oe.Phrase("--flag"), "--flag "+tt.subject+": "+oe.Reason; got != want {
			t.Errorf("Phrase = %q, want %q", got, want)
		}
	}
}

func TestEtcContentDNS(t *testing.T) {
	o := ProcessOptions{DNS: []string{"192.0.2.53"}, DNSSearch: []string{"a.example", "b.example"}, DNSOptions: []string{"ndots:2"}}
	hosts, resolv := etcContent("box", NetworkSettings{Mode: NetworkNone}, o, parsedProcess{hosts: []string{"10.0.0.1\tdb"}})
	for _, want := range []string{"127.0.1.1\tbox\n", "10.0.0.1\tdb\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}
	for _, want := range []string{"nameserver 192.0.2.53\n", "search a.example b.example\n", "options ndots:2\n"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	if strings.Count(resolv, "nameserver") != 1 {
		t.Errorf("--dns must replace the host's nameservers:\n%s", resolv)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"TERM": 15, "SIGKILL": 9, "usr1": 10, "2": 2} {
		got, err := ParseSignal(in)
		if err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "65", "SIGBOGUS", ""} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func TestKeepIDMap(t *testing.T) {
	// The session of a user with two subordinate ranges.
	session := []extent{{0, 1}, {1, 65536}, {65537, 65536}}
	got, err := keepIDMap(1001, session)
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.LinuxIDMapping{
		{ContainerID: 1001, HostID: 0, Size: 1},
		{ContainerID: 0, HostID: 1, Size: 1001},
		{ContainerID: 1002, HostID: 1002, Size: 64535},
		{ContainerID: 65537, HostID: 65537, Size: 65536},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keepIDMap (-want +got):\n%s", diff)
	}
	if _, err := keepIDMap(70000, []extent{{0, 1}, {1, 65536}}); err == nil {
		t.Error("keepIDMap accepted a uid beyond the session's ids")
	}
}
