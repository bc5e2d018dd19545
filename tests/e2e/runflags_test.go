//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunCidfile: --cidfile gets the ID; an existing file is refused with
// Docker's message; a create that fails leaves no file (issue 13).
func TestRunCidfile(t *testing.T) {
	e := isolatedEnv(t)
	cid := filepath.Join(e.dir, "cid")
	r := e.lodger(t, "run", "-q", noTLS, "--cidfile", cid, "--name", "c", ref("busybox:latest"), "true")
	wantCode(t, r, 0)
	b, err := os.ReadFile(cid)
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(b) {
		t.Fatalf("cidfile holds %q (%v), want the 64-hex container ID alone", b, err)
	}
	if ins := e.lodger(t, "inspect", "-f", "{{.Id}}", "c"); strings.TrimSpace(ins.stdout) != string(b) {
		t.Errorf("cidfile %q is not the container's ID %q", b, ins.stdout)
	}
	r = e.lodger(t, "create", "-q", noTLS, "--cidfile", cid, ref("busybox:latest"))
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "container ID file found, make sure the other container isn't running or delete "+cid) {
		t.Errorf("%s\nwant Docker's refusal of an existing cidfile", r)
	}
	if b2, _ := os.ReadFile(cid); string(b2) != string(b) {
		t.Errorf("the refused create changed the cidfile: %q", b2)
	}
	cid2 := filepath.Join(e.dir, "cid2")
	r = e.lodger(t, "create", "-q", noTLS, "--cidfile", cid2, "--pull", "never", ref("nosuch:latest"))
	wantCode(t, r, 125)
	if _, err := os.Stat(cid2); err == nil {
		t.Errorf("a failed create left its cidfile %s", cid2)
	}
	// -d prints the ID and writes it.
	cid3 := filepath.Join(e.dir, "cid3")
	r = e.lodger(t, "run", "-d", "-q", noTLS, "--cidfile", cid3, ref("busybox:latest"), "true")
	wantCode(t, r, 0)
	if b3, _ := os.ReadFile(cid3); string(b3)+"\n" != r.stdout {
		t.Errorf("run -d printed %q, cidfile holds %q", r.stdout, b3)
	}
}

// TestRunStopTimeout: stop without -t waits --stop-timeout, not 10 s; -t
// still wins (issue 13).
func TestRunStopTimeout(t *testing.T) {
	e := isolatedEnv(t)
	// sleep as pid 1 ignores TERM: only the KILL ends it.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--stop-timeout", "1", "--name", "s", ref("busybox:latest"), "sleep", "1000"), 0)
	start := time.Now()
	wantStdout(t, e.lodger(t, "stop", "s"), "s\n")
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop of a --stop-timeout 1 container took %s, want at least 1 s", d)
	}
	// The wait between TERM and KILL is the timeout, as the kill events'
	// times show it: 1 s, not the default 10 (however long the commands
	// around it took on a loaded machine).
	if gap := stopGaps(t, e, "s"); len(gap) != 1 || gap[0] < time.Second || gap[0] >= 9*time.Second {
		t.Errorf("stop of a --stop-timeout 1 container waited %v between TERM and KILL, want about 1 s", gap)
	}
	wantCode(t, e.lodger(t, "start", "s"), 0)
	start = time.Now()
	wantStdout(t, e.lodger(t, "stop", "-t", "3", "s"), "s\n")
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("stop -t 3 took %s: -t must win over --stop-timeout", d)
	}
	if gap := stopGaps(t, e, "s"); len(gap) != 2 || gap[1] < 3*time.Second {
		t.Errorf("stop -t 3 waited %v between TERM and KILL: -t must win over --stop-timeout", gap)
	}
}

// stopGaps is, for each stop of name that ended in a KILL, the time
// between its TERM and its KILL, from the container's kill events.
func stopGaps(t *testing.T, e *env, name string) []time.Duration {
	t.Helper()
	r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container="+name, "--filter", "event=kill",
		"--format", "{{.TimeNano}} {{.Actor.Attributes.signal}}")
	wantCode(t, r, 0)
	var gaps []time.Duration
	var term int64
	for _, l := range lines(r.stdout) {
		var at int64
		var sig string
		if _, err := fmt.Sscan(l, &at, &sig); err != nil {
			t.Fatalf("%s\nparse %q: %v", r, l, err)
		}
		switch sig {
		case "15":
			term = at
		case "9":
			if term != 0 {
				gaps = append(gaps, time.Duration(at-term))
			}
			term = 0
		}
	}
	return gaps
}

// TestRunResourceLimitsWarn: --memory, --cpus and --pids-limit cannot be
// applied with nothing delegated: one warning line naming them and what is
// missing, the container still runs; a malformed value is refused (issue
// 13).
func TestRunResourceLimitsWarn(t *testing.T) {
	e := isolatedEnv(t)
	r := e.runRm(t, "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", ref("busybox:latest"), "echo", "ran")
	wantCode(t, r, 0)
	if r.stdout != "ran\n" {
		t.Errorf("%s\nwant the container to run", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "warning: --memory, --cpus, --pids-limit not applied: no writable cgroup is delegated to this user") {
		t.Errorf("%s\nwant one warning line naming the flags and the missing delegation", r)
	}
	r = e.runRm(t, "-m", "lots", ref("busybox:latest"), "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "--memory") {
		t.Errorf("%s\nwant the bad --memory named", r)
	}
	r = e.lodger(t, "info")
	if !strings.Contains(r.stdout, "limits:        none: --memory, --cpus and --pids-limit are warned about") {
		t.Errorf("%s\nwant info to say no limit is applied", r)
	}
}

// TestRunTZ: --tz sets the container's time zone from the host's zoneinfo
// (podman's flag); an unknown zone is refused (issue 13).
func TestRunTZ(t *testing.T) {
	e := isolatedEnv(t)
	r := e.runRm(t, "--tz", "Asia/Tokyo", ref("busybox:latest"), "date", "+%Z")
	wantStdout(t, r, "JST\n")
	r = e.runRm(t, "--tz", "Nowhere/Atlantis", ref("busybox:latest"), "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "Nowhere/Atlantis") {
		t.Errorf("%s\nwant the unknown zone named", r)
	}
}

// TestRunDevice: --device binds a device the user can open, under its own
// name or another; one the user cannot open is refused naming it (issue
// 13).
func TestRunDevice(t *testing.T) {
	e := isolatedEnv(t)
	r := e.runRm(t, "--device", "/dev/null:/dev/mynull", "--device", "/dev/zero", ref("busybox:latest"),
		"sh", "-c", "test -c /dev/mynull && echo x > /dev/mynull && head -c 3 /dev/zero | wc -c")
	wantStdout(t, r, "3\n")
	// PERMS need the device cgroup: not silently ignored.
	r = e.runRm(t, "--device", "/dev/null:/dev/ronull:r", ref("busybox:latest"), "test", "-c", "/dev/ronull")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, `warning: --device /dev/null: permissions "r" not enforced`) {
		t.Errorf("%s\nwant a warning that PERMS are not enforced", r)
	}
	r = e.runRm(t, "--device", "/dev/console", ref("busybox:latest"), "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "--device /dev/console") || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("%s\nwant the device the user cannot open refused, named", r)
	}
}

// TestRunSysctl: --sysctl sets the namespaced sysctls Docker allows in the
// container's own namespaces, leaving the host's; others, and net.* with
// --network host, are refused with 125 naming the sysctl (issue 13).
func TestRunSysctl(t *testing.T) {
	e := isolatedEnv(t)
	hostPorts, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	hostShm, _ := os.ReadFile("/proc/sys/kernel/shmmni")
	r := e.runRm(t, "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmni=1234", ref("busybox:latest"),
		"cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni")
	wantStdout(t, r, "80\n1234\n")
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); string(b) != string(hostPorts) {
		t.Errorf("the host's ip_unprivileged_port_start changed: %q, was %q", b, hostPorts)
	}
	if b, _ := os.ReadFile("/proc/sys/kernel/shmmni"); string(b) != string(hostShm) {
		t.Errorf("the host's kernel.shmmni changed: %q, was %q", b, hostShm)
	}
	for _, args := range [][]string{
		{"--sysctl", "vm.swappiness=1"},
		{"--sysctl", "kernel.hostname=x"},
		{"--network", "host", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80"},
		{"--ipc", "host", "--sysctl", "kernel.shmmni=10"},
	} {
		r := e.runRm(t, append(args, ref("busybox:latest"), "true")...)
		wantCode(t, r, 125)
		name := strings.SplitN(args[len(args)-1], "=", 2)[0]
		if !strings.Contains(r.stderr, "--sysctl "+name) {
			t.Errorf("%s\nwant the refused sysctl %s named", r, name)
		}
	}
}

// TestRunExpose: -P publishes the ports --expose adds beside the image's;
// a malformed one is refused (issue 13).
func TestRunExpose(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", noTLS, "-P", "--expose", "8080", "--expose", "5353/udp", "--name", "x", ref("busybox:latest"), "sleep", "1000")
	wantCode(t, r, 0)
	r = e.lodger(t, "port", "x")
	wantCode(t, r, 0)
	for _, p := range []string{"8080/tcp -> ", "5353/udp -> "} {
		if !strings.Contains(r.stdout, p) {
			t.Errorf("%s\nwant %s published by -P", r, p)
		}
	}
	r = e.runRm(t, "--expose", "http", ref("busybox:latest"), "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "--expose") {
		t.Errorf("%s\nwant the bad --expose named", r)
	}
	wantCode(t, e.lodger(t, "rm", "-f", "x"), 0)
}

// TestRunCgroupns: a container has a cgroup namespace of its own unless
// --cgroupns host; anything else is refused (issue 13).
func TestRunCgroupns(t *testing.T) {
	e := isolatedEnv(t)
	own, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	r := e.runRm(t, "--cgroupns", "host", ref("busybox:latest"), "readlink", "/proc/self/ns/cgroup")
	wantStdout(t, r, own+"\n")
	for _, args := range [][]string{{"--cgroupns", "private"}, {}} {
		r = e.runRm(t, append(args, ref("busybox:latest"), "readlink", "/proc/self/ns/cgroup")...)
		wantCode(t, r, 0)
		if strings.TrimSpace(r.stdout) == own {
			t.Errorf("%s\nwant a cgroup namespace of the container's own", r)
		}
	}
	r = e.runRm(t, "--cgroupns", "other", ref("busybox:latest"), "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "--cgroupns") {
		t.Errorf("%s\nwant the bad --cgroupns named", r)
	}
}
