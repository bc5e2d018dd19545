//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerDefaultCaps is the capability mask of a Docker container's root:
// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
const dockerDefaultCaps uint64 = 0x00000000a80425fb

// Capability numbers the tests add or drop (capabilities(7)).
const (
	capChown    = 0
	capNetRaw   = 13
	capSysAdmin = 21
)

// Docker's masked and read-only paths, as a user of `docker run` knows
// them (container/security.go must match).
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// onHost keeps the paths that exist on this host: the kernel decides which
// of Docker's lists there is anything to hide.
func onHost(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// allCaps is every capability of this kernel, which is what a user
// namespace's root holds.
func allCaps(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || last < 0 || last > 62 {
		t.Fatalf("cap_last_cap %q", b)
	}
	return 1<<(last+1) - 1
}

// procSecurity is what /proc/self/status says about a process's privileges.
type procSecurity struct {
	Inh, Prm, Eff, Bnd, Amb      uint64
	NoNewPrivs, Seccomp, Filters int
}

func (p procSecurity) String() string {
	return fmt.Sprintf("CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x NoNewPrivs %d Seccomp %d Seccomp_filters %d",
		p.Inh, p.Prm, p.Eff, p.Bnd, p.Amb, p.NoNewPrivs, p.Seccomp, p.Filters)
}

// statusOf runs `cat /proc/self/status` in busybox with flags and reads
// the privilege lines.
func statusOf(t *testing.T, flags ...string) procSecurity {
	t.Helper()
	r := runRm(t, append(flags, busybox, "cat", "/proc/self/status")...)
	wantCode(t, r, 0)
	var p procSecurity
	seen := map[string]bool{}
	for _, l := range lines(r.stdout) {
		key, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			dst := map[string]*uint64{"CapInh": &p.Inh, "CapPrm": &p.Prm, "CapEff": &p.Eff, "CapBnd": &p.Bnd, "CapAmb": &p.Amb}[key]
			*dst, err = strconv.ParseUint(val, 16, 64)
		case "NoNewPrivs":
			p.NoNewPrivs, err = strconv.Atoi(val)
		case "Seccomp":
			p.Seccomp, err = strconv.Atoi(val)
		case "Seccomp_filters":
			p.Filters, err = strconv.Atoi(val)
		default:
			continue
		}
		if err != nil {
			t.Fatalf("%s\nparse %s: %v", r, key, err)
		}
		seen[key] = true
	}
	if len(seen) != 8 {
		t.Fatalf("%s\nwant the 5 capability sets, NoNewPrivs, Seccomp and Seccomp_filters in /proc/self/status", r)
	}
	return p
}

// TestSecurityProcStatus reads a container's privileges from its
// /proc/self/status under each flag that shapes them.
func TestSecurityProcStatus(t *testing.T) {
	const def = dockerDefaultCaps
	all := allCaps(t)
	for _, tc := range []struct {
		name  string
		flags []string
		want  procSecurity
	}{
		{"default", nil, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 1}},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}, procSecurity{Prm: def, Eff: def, Bnd: def, NoNewPrivs: 1, Seccomp: 2, Filters: 1}},
		{"no-new-privileges=true", []string{"--security-opt", "no-new-privileges=true"}, procSecurity{Prm: def, Eff: def, Bnd: def, NoNewPrivs: 1, Seccomp: 2, Filters: 1}},
		{"no-new-privileges=false", []string{"--security-opt", "no-new-privileges=false"}, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 1}},
		{"cap-drop ALL cap-add CHOWN", []string{"--cap-drop", "ALL", "--cap-add", "CHOWN"}, procSecurity{Prm: 1 << capChown, Eff: 1 << capChown, Bnd: 1 << capChown, Seccomp: 2, Filters: 1}},
		{"cap-drop ALL", []string{"--cap-drop", "ALL"}, procSecurity{Seccomp: 2, Filters: 1}},
		{"cap-drop NET_RAW", []string{"--cap-drop", "NET_RAW"}, procSecurity{Prm: def &^ (1 << capNetRaw), Eff: def &^ (1 << capNetRaw), Bnd: def &^ (1 << capNetRaw), Seccomp: 2, Filters: 1}},
		{"cap-add cap_sys_admin", []string{"--cap-add", "cap_sys_admin"}, procSecurity{Prm: def | 1<<capSysAdmin, Eff: def | 1<<capSysAdmin, Bnd: def | 1<<capSysAdmin, Seccomp: 2, Filters: 1}},
		{"cap-add ALL", []string{"--cap-add", "ALL"}, procSecurity{Prm: all, Eff: all, Bnd: all, Seccomp: 2, Filters: 1}},
		{"user alice", []string{"-u", "alice"}, procSecurity{Bnd: def, Seccomp: 2, Filters: 1}},
		// A non-root user gets what it asked for, as ambient capabilities
		// (which must be inheritable too), and nothing else.
		{"user alice cap-add ALL", []string{"-u", "alice", "--cap-add", "ALL"}, procSecurity{Inh: all, Prm: all, Eff: all, Amb: all, Bnd: all, Seccomp: 2, Filters: 1}},
		{"user alice cap-add NET_BIND_SERVICE", []string{"-u", "alice", "--cap-add", "NET_BIND_SERVICE"}, procSecurity{Inh: 0x400, Prm: 0x400, Eff: 0x400, Amb: 0x400, Bnd: def, Seccomp: 2, Filters: 1}},
		// Without a profile there is no filter at all, unless the
		// opt-in connect bypass asks for the network's connect filter
		// (one filter of its own).
		{"privileged", []string{"--privileged"}, procSecurity{Prm: all, Eff: all, Bnd: all}},
		{"privileged user alice", []string{"--privileged", "-u", "alice"}, procSecurity{Bnd: all}},
		{"seccomp=unconfined", []string{"--security-opt", "seccomp=unconfined"}, procSecurity{Prm: def, Eff: def, Bnd: def}},
		{"privileged network none", []string{"--privileged", "--network", "none"}, procSecurity{Prm: all, Eff: all, Bnd: all}},
		{"seccomp=unconfined bypass=true", []string{"--security-opt", "seccomp=unconfined", "--network", "netstack:bypass=true"}, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 1}},
		{"bypass=true", []string{"--network", "netstack:bypass=true"}, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 2}},
		{"network none", []string{"--network", "none"}, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 1}},
		{"network host", []string{"--network", "host"}, procSecurity{Prm: def, Eff: def, Bnd: def, Seccomp: 2, Filters: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusOf(t, tc.flags...); got != tc.want {
				t.Errorf("lodger run %s: /proc/self/status\n got %v\nwant %v", shellQuote(tc.flags), got, tc.want)
			}
		})
	}
}

// TestSecurityMaskedPaths checks Docker's masked and read-only paths from
// inside a default container.
func TestSecurityMaskedPaths(t *testing.T) {
	var files, dirs []string
	for _, p := range onHost(maskedPaths) {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	if !slices.Contains(files, "/proc/keys") || !slices.Contains(dirs, "/sys/firmware") {
		t.Fatalf("this host lacks /proc/keys or /sys/firmware (has files %q, dirs %q): the checks below need one of each", files, dirs)
	}

	t.Run("files read empty", func(t *testing.T) {
		for _, f := range files {
			wantStdout(t, runRm(t, busybox, "sh", "-c", "wc -c <"+f), "0\n")
		}
		// Not empty for want of content: /proc/interrupts always has some.
		if slices.Contains(files, "/proc/interrupts") {
			r := runRm(t, "--privileged", busybox, "sh", "-c", "wc -c </proc/interrupts")
			wantCode(t, r, 0)
			if strings.TrimSpace(r.stdout) == "0" {
				t.Errorf("%s\nwant --privileged to see the real /proc/interrupts", r)
			}
		}
	})
	t.Run("writing a masked file reaches nothing", func(t *testing.T) {
		// Masked files are /dev/null, as in Docker: the write is swallowed.
		wantStdout(t, runRm(t, busybox, "sh", "-c", "echo x >/proc/keys; wc -c </proc/keys"), "0\n")
	})
	t.Run("directories are empty and read-only", func(t *testing.T) {
		for _, d := range dirs {
			wantStdout(t, runRm(t, busybox, "ls", "-A", d), "")
			r := runRm(t, busybox, "touch", d+"/x")
			wantCode(t, r, 1)
			if !strings.Contains(r.stderr, "Read-only file system") {
				t.Errorf("%s\nwant EROFS creating a file in masked %s", r, d)
			}
		}
		r := runRm(t, "--privileged", busybox, "ls", "-A", "/sys/firmware")
		wantCode(t, r, 0)
		if r.stdout == "" {
			t.Errorf("%s\nwant --privileged to see the real /sys/firmware", r)
		}
	})
	t.Run("umount of a mask fails", func(t *testing.T) {
		for _, p := range []string{"/proc/keys", "/sys/firmware"} {
			r := runRm(t, busybox, "sh", "-c", "umount "+p+" || exit 3; echo unmounted")
			wantCode(t, r, 3)
			if !strings.Contains(r.stderr, "Operation not permitted") {
				t.Errorf("%s\nwant EPERM from umount %s", r, p)
			}
		}
	})
	t.Run("/proc/sys is read-only", func(t *testing.T) {
		r := runRm(t, busybox, "sh", "-c", "echo x >/proc/sys/kernel/hostname")
		wantCode(t, r, 1)
		if !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("%s\nwant EROFS writing /proc/sys", r)
		}
	})
}

// TestSecuritySeccomp checks the default profile and profile files.
func TestSecuritySeccomp(t *testing.T) {
	t.Run("default profile refuses unshare and mount", func(t *testing.T) {
		r := runRm(t, busybox, "unshare", "-U", "true")
		if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
			t.Errorf("%s\nwant unshare -U refused with EPERM", r)
		}
		// It is the filter that refuses: the kernel lets anyone make a
		// user namespace.
		wantOK(t, runRm(t, "--security-opt", "seccomp=unconfined", busybox, "unshare", "-U", "true"))

		// Without CAP_SYS_ADMIN the kernel refuses a mount with EPERM
		// too, but only once it has found the mount point: on one that
		// does not exist it says ENOENT. EPERM there is the filter's.
		const mp = "/lodger-no-such-mount-point"
		r = runRm(t, busybox, "mount", "-t", "tmpfs", "none", mp)
		if r.code == 0 || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("%s\nwant mount refused with EPERM by the filter", r)
		}
		r = runRm(t, busybox, "umount", mp)
		if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
			t.Errorf("%s\nwant umount refused with EPERM by the filter", r)
		}
		// The controls: unconfined, the same calls reach the kernel.
		r = runRm(t, "--security-opt", "seccomp=unconfined", busybox, "mount", "-t", "tmpfs", "none", mp)
		if r.code == 0 || !strings.Contains(r.stderr, "No such file or directory") {
			t.Errorf("%s\nwant ENOENT from the kernel with no filter", r)
		}
		r = runRm(t, "--security-opt", "seccomp=unconfined", busybox, "umount", mp)
		if r.code == 0 || !strings.Contains(r.stderr, "No such file or directory") {
			t.Errorf("%s\nwant ENOENT from the kernel with no filter", r)
		}
		// With the capability and no filter a mount works here, so the
		// refusals above are not this machine's.
		mountTmpfs := []string{busybox, "sh", "-c", "mount -t tmpfs none /tmp && grep -c ' /tmp tmpfs ' /proc/mounts"}
		wantStdout(t, runRm(t, append([]string{"--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"}, mountTmpfs...)...), "1\n")
		// Docker's profile allows mount to a container given
		// CAP_SYS_ADMIN (exec/seccomp TestDefaultRefuses).
		wantStdout(t, runRm(t, append([]string{"--cap-add", "SYS_ADMIN"}, mountTmpfs...)...), "1\n")
	})

	dir := t.TempDir()
	profile := func(t *testing.T, body string) string {
		t.Helper()
		f := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-").Replace(t.Name())+".json")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return "seccomp=" + f
	}
	for _, tc := range []struct {
		name, profile, errno string
	}{
		// Docker's profile format: default action and one rule.
		{"mkdir denied", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`, "Operation not permitted"},
		{"errnoRet", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`, "Permission denied"},
		// Docker's default errno for SCMP_ACT_ERRNO is EPERM.
		{"no errnoRet", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`, "Operation not permitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := profile(t, tc.profile)
			r := runRm(t, "--security-opt", opt, busybox, "mkdir", "/x")
			wantCode(t, r, 1)
			if !strings.Contains(r.stderr, "'/x': "+tc.errno) {
				t.Errorf("%s\nwant mkdir refused with %q", r, tc.errno)
			}
			// Everything else is allowed, and the filter is in place.
			r = runRm(t, "--security-opt", opt, busybox, "sh", "-c", "touch /y && grep '^Seccomp:' /proc/self/status")
			wantStdout(t, r, "Seccomp:\t2\n")
		})
	}
}

// fdsOf returns the descriptors the checker found open.
func fdsOf(r checkerReport) []int {
	return slices.Sorted(maps.Keys(r.FDs))
}

// TestSecurityNoLeakedFDs checks that only 0, 1 and 2 reach the container,
// whatever lodger itself and its caller hold open (CVE-2024-21626 used a
// leaked descriptor).
func TestSecurityNoLeakedFDs(t *testing.T) {
	std := []int{0, 1, 2}
	check := func(t *testing.T, r checkerReport) {
		t.Helper()
		if got := fdsOf(r); !slices.Equal(got, std) {
			t.Errorf("open descriptors %v (%v), want %v", got, r.FDs, std)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"default", nil},
		{"init", []string{"--init"}},
		{"interactive", []string{"-i"}},
		{"user", []string{"-u", "alice"}},
		{"network host", []string{"--network", "host"}},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, runChecker(t, shared, tc.flags...)) })
	}
	// As the attacker, on a user network: the init waits there for
	// lodger's go-ahead on a socket while the gateway attaches the
	// network (exec.Start); neither that socket nor anything the attach
	// used may reach the container's process. The default network's
	// case above waits on the same socket for its TAP.
	t.Run("user network", func(t *testing.T) {
		wantOK(t, shared.lodger(t, "network", "create", "fdnet"))
		defer shared.lodger(t, "network", "rm", "-f", "fdnet")
		check(t, runChecker(t, shared, "--network", "fdnet"))
		check(t, runChecker(t, shared, "--network", "fdnet", "--sysctl", "net.ipv4.conf.eth0.forwarding=1"))
	})
	t.Run("caller leaks a descriptor", func(t *testing.T) {
		// A shell or CI runner may hand lodger descriptors without
		// close-on-exec: they are not the container's.
		f, err := os.Open("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := withFiles(t, shared, []*os.File{f, f, f, f, f, f}, "run", "--rm", "-q", noTLS, ref("checker:latest"))
		wantOK(t, r)
		check(t, parseChecker(t, r.stdout))
	})
	// The same through any process of the container, --init's reaper
	// included: with the caller's descriptor of a host directory, a
	// process could read and write the host's files (CVE-2024-21626).
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lodger-host-marker"), []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{nil, {"--init"}, {"--init", "-u", "alice"}} {
		t.Run("caller leaks a directory "+shellQuote(flags), func(t *testing.T) {
			d, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			script := `for p in /proc/[0-9]*; do ls $p/fd | tr '\n' ' ' | sed "s|^|${p#/proc/}: |"; echo; done >&2
for f in /proc/[0-9]*/fd/*; do cat "$f/lodger-host-marker" 2>/dev/null; done; true`
			args := append(append([]string{"run", "--rm", "-q", noTLS}, flags...), busybox, "sh", "-c", script)
			// 3 and 4 are replaced by lodger's own pipes to its init.
			r := withFiles(t, shared, []*os.File{d, d, d, d, d, d}, args...)
			wantCode(t, r, 0)
			if r.stdout != "" {
				t.Errorf("%s\na container process read %s on the host through a descriptor lodger inherited", r, dir)
			}
		})
	}
	t.Run("terminal", func(t *testing.T) {
		out, code := onTerminal(t, shared, "run", "--rm", "-q", "-t", noTLS, ref("checker:latest"))
		if code != 0 {
			t.Fatalf("exit %d, terminal showed %q", code, out)
		}
		r := parseChecker(t, out)
		check(t, r)
		for fd, target := range r.FDs {
			if !strings.HasPrefix(target, "/dev/pts/") {
				t.Errorf("fd %d is %s, want the container's terminal", fd, target)
			}
		}
	})
	t.Run("ls /proc/self/fd", func(t *testing.T) {
		// 3 is ls's own handle on the directory.
		wantStdout(t, runRm(t, busybox, "ls", "/proc/self/fd"), "0\n1\n2\n3\n")
	})
}

// withFiles runs lodger in e with files open as descriptors 3 and up,
// without close-on-exec, as a careless caller would leave them.
func withFiles(t *testing.T, e *env, files []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.ExtraFiles = files
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s\ntimed out after %s", r, callTimeout)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("start lodger %s: %v", shellQuote(args), err)
	}
	return r
}

// onTerminal runs lodger on a new pseudo-terminal and returns what the
// terminal showed, carriage returns removed, and lodger's exit code.
func onTerminal(t *testing.T, e *env, args ...string) (string, int) {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatalf("allocate a pty: %v", err)
	}
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() { out <- readPTY(master) }()
	var stderr bytes.Buffer
	code := waitExit(t, cmd, &stderr)
	slave.Close()
	if ctx.Err() != nil {
		t.Fatalf("lodger %s: timed out", shellQuote(args))
	}
	select {
	case s := <-out:
		return strings.ReplaceAll(s, "\r", ""), code
	case <-time.After(60 * time.Second):
		t.Fatalf("lodger %s: the terminal stayed open after lodger exited", shellQuote(args))
	}
	return "", code
}

// TestSecurityWorkdirInProc is CVE-2024-21626: a working directory under
// /proc can name a descriptor of the runtime and lead outside the
// container. lodger refuses it, by flag or image, before anything runs.
func TestSecurityWorkdirInProc(t *testing.T) {
	e := isolatedEnv(t)
	for _, dir := range []string{
		"/proc/self/fd/3", "/proc/self/fd/4", "/proc/self/fd/5", "/proc/1/cwd",
		"/proc/self/cwd", "/proc", "/proc/self", "/tmp/../proc/self/fd/4",
	} {
		t.Run("-w "+dir, func(t *testing.T) {
			r := e.runRm(t, "-w", dir, busybox, "pwd")
			wantError(t, r, 125, path.Clean(dir))
			if r.stdout != "" {
				t.Errorf("%s\nthe command ran", r)
			}
		})
	}
	t.Run("image WORKDIR", func(t *testing.T) {
		r := e.runRm(t, ref("evil-workdir:latest"), "pwd")
		wantError(t, r, 125, "/proc/self/fd/4")
		if r.stdout != "" {
			t.Errorf("%s\nthe command ran", r)
		}
	})
	// /dev/fd is lodger's own link to /proc/self/fd: a working directory
	// through it is as much inside /proc.
	for _, dir := range []string{"/dev/fd", "/dev/fd/4", "/dev/stdin"} {
		t.Run("-w "+dir, func(t *testing.T) {
			r := e.runRm(t, "-w", dir, busybox, "pwd")
			if r.code == 0 || r.stdout != "" {
				t.Errorf("%s\nwant %s refused: it leads into /proc", r, dir)
			}
			if r.code != 0 {
				wantError(t, r, r.code, dir)
			}
		})
	}
	t.Run("nothing left", func(t *testing.T) {
		wantStdout(t, e.lodger(t, "ps", "-a", "-q"), "")
	})
}

// TestSecurityBadInput checks that malformed security flags are refused
// with 125, naming what is wrong, before anything is pulled or created.
func TestSecurityBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	notJSON := write("not-json.json", "not json\n")
	badAction := write("bad-action.json", `{"defaultAction": "SCMP_ACT_BOGUS"}`)
	missing := filepath.Join(dir, "missing.json")
	e := isolatedEnv(t)
	for _, tc := range []struct {
		name  string
		flags []string
		words []string
	}{
		{"unknown capability to add", []string{"--cap-add", "BOGUS"}, []string{"--cap-add", "BOGUS"}},
		{"unknown capability to drop", []string{"--cap-drop", "CAP_BOGUS"}, []string{"--cap-drop", "CAP_BOGUS"}},
		{"unknown option", []string{"--security-opt", "bogus"}, []string{"--security-opt", "bogus"}},
		{"seccomp without a value", []string{"--security-opt", "seccomp"}, []string{"--security-opt", "seccomp"}},
		{"seccomp empty", []string{"--security-opt", "seccomp="}, []string{"--security-opt", "seccomp"}},
		{"no-new-privileges not a bool", []string{"--security-opt", "no-new-privileges=maybe"}, []string{"no-new-privileges=maybe"}},
		{"missing profile", []string{"--security-opt", "seccomp=" + missing}, []string{missing}},
		{"profile not JSON", []string{"--security-opt", "seccomp=" + notJSON}, []string{notJSON}},
		{"profile with an unknown action", []string{"--security-opt", "seccomp=" + badAction}, []string{badAction, "SCMP_ACT_BOGUS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.lodger(t, append(append([]string{"run", "-q", noTLS}, tc.flags...), busybox, "true")...)
			wantError(t, r, 125, tc.words...)
			if ids := e.lodger(t, "ps", "-a", "-q"); ids.stdout != "" {
				t.Errorf("%s\nleft a container: %s", r, ids.stdout)
				e.lodger(t, append([]string{"rm"}, lines(ids.stdout)...)...)
			}
			if imgs := e.images(t); len(imgs) != 0 {
				t.Errorf("%s\npulled %s before refusing the flags", r, imgs[0].Names)
				e.lodger(t, "rmi", imgs[0].ID)
			}
		})
	}
}

// evilRun is `lodger run --rm IMAGE ...` on a hostile image: it must end
// well within the call timeout.
func evilRun(t *testing.T, e *env, args ...string) result {
	t.Helper()
	start := time.Now()
	r := e.runRm(t, args...)
	if d := time.Since(start); d > callTimeout/2 {
		t.Errorf("%s\ntook %s", r, d.Round(time.Second))
	}
	return r
}

// probeScript reports, inside a container, what a hostile image could
// have uncovered.
const probeScript = `
echo keys=$(cat /proc/keys 2>/dev/null | wc -c)
echo firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l)
echo shadow=$(cat /etc/shadow 2>/dev/null | wc -c)
[ -r /proc/self/mountinfo ] || exit 0
if [ -d /proc/sys/kernel ]; then
	if awk '$5 == "/proc/sys" && $6 ~ /^ro(,|$)/ {ro = 1} END {exit !ro}' /proc/self/mountinfo; then echo procsys=ro; else echo procsys=rw; fi
fi
awk '$5 ~ "^/(proc|sys)/" {print "mount=" $5}' /proc/self/mountinfo
`

// wantProbe checks probeScript's output: masked files empty, /proc/sys
// read-only where it exists, and under /proc and /sys no mounts but the
// masks and read-only binds (runc refuses mounts over /proc, the shape of
// CVE-2019-19921).
func wantProbe(t *testing.T, r result) {
	t.Helper()
	wantCode(t, r, 0)
	allowed := append(slices.Clone(maskedPaths), readonlyPaths...)
	var problems []string
	for _, l := range lines(r.stdout) {
		key, val, _ := strings.Cut(l, "=")
		switch {
		case key == "keys" && val != "0":
			problems = append(problems, "/proc/keys is readable")
		case key == "firmware" && val != "0":
			problems = append(problems, "/sys/firmware is not empty")
		case key == "shadow" && val != "0":
			problems = append(problems, "/etc/shadow is readable")
		case key == "procsys" && val != "ro":
			problems = append(problems, "/proc/sys is not read-only")
		case key == "mount" && !slices.Contains(allowed, val) && !slices.Contains(problems, "mount on "+val):
			problems = append(problems, "mount on "+val)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s\nwant the container confined: %s", r, strings.Join(problems, "; "))
	}
}

// TestEvilSecurityImages runs images whose /dev, /proc, /sys, /etc/hosts
// or /etc/passwd aim at host paths, kernel files or things that never end.
// Each run refuses with 125 and the message pinned below, or runs
// confined, as pinned; never hangs; and leaves the host as it was.
func TestEvilSecurityImages(t *testing.T) {
	corePattern := func() string {
		b, err := os.ReadFile("/proc/sys/kernel/core_pattern")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// What a runtime following /dev to the host's /tmp would create there,
	// and the file the probes name in a core_pattern.
	escapeNames := []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue",
		"ptmx", "fd", "stdin", "stdout", "stderr", "core", "console", "lodger-pwn"}
	tmpNames := func() []string {
		ents, _ := os.ReadDir("/tmp")
		var out []string
		for _, d := range ents {
			if slices.Contains(escapeNames, d.Name()) {
				out = append(out, d.Name())
			}
		}
		return out
	}
	// alice is unknown where /etc/passwd is not a regular file of the
	// image; numeric ids need no lookup.
	unknownUser := func(t *testing.T, e *env, image string) {
		t.Helper()
		wantError(t, evilRun(t, e, "-u", "alice", image, "true"), 125, "alice")
		wantStdout(t, evilRun(t, e, "-u", "1000:1000", image, "sh", "-c", `awk '/^Uid:/ {print $2}' /proc/self/status`), "1000\n")
	}
	// Same for staff and /etc/group.
	unknownUserAndGroup := func(t *testing.T, e *env, image string) {
		t.Helper()
		unknownUser(t, e, image)
		wantError(t, evilRun(t, e, "--group-add", "staff", image, "true"), 125, "staff")
	}

	// The refusals: lodger mounts /dev, /proc and /sys on directories of
	// the image only, and never mounts over a kernel file.
	const (
		devLink  = "the image's /dev is a symlink, not a directory: refused"
		procLink = "the image's /proc is a symlink, not a directory: refused"
		sysLink  = "the image's /sys is a symlink, not a directory: refused"
		hostsIn  = "mount point /etc/hosts: resolves to /proc/sys/kernel/core_pattern, inside /proc: refused"
	)
	for _, tc := range []struct {
		image string
		// refused is the message of a run that must exit 125; "" for an
		// image that must run, confined
		refused string
		// extra checks of an image that runs
		extra func(t *testing.T, e *env, image string)
	}{
		{"evil-devsymlink:latest", devLink, nil},
		{"evil-devsymlink:etc", devLink, nil},
		{"evil-devnull:latest", "", func(t *testing.T, e *env, image string) {
			// CVE-2025-31133: /dev/null must be the device, not the link.
			r := evilRun(t, e, image, "sh", "-c", `echo '|/tmp/lodger-pwn' >/dev/null; test -c /dev/null && ! test -L /dev/null && echo device`)
			wantStdout(t, r, "device\n")
		}},
		{"evil-devconsole:latest", "", func(t *testing.T, e *env, image string) {
			wantStdout(t, evilRun(t, e, image, "sh", "-c", "test -L /dev/console || echo no-link"), "no-link\n")
			out, code := onTerminal(t, e, "run", "--rm", "-q", "-t", noTLS, image, "sh", "-c", "test -L /dev/console || echo no-link")
			if code != 0 || out != "no-link\n" {
				t.Errorf("-t: exit %d, terminal showed %q; want exit 0 and no-link", code, out)
			}
		}},
		{"evil-devpts:latest", "", func(t *testing.T, e *env, image string) {
			wantStdout(t, evilRun(t, e, image, "sh", "-c", "! test -L /dev/pts && test -c /dev/pts/ptmx && echo devpts"), "devpts\n")
		}},
		{"evil-procsymlink:latest", procLink, nil},
		{"evil-procsymlink:root", procLink, nil},
		{"evil-syssymlink:latest", sysLink, nil},
		{"evil-masklinks:latest", "", nil},
		{"evil-etchosts:latest", hostsIn, nil},
		{"evil-passwd-host:latest", "", func(t *testing.T, e *env, image string) {
			// A runtime reading the image's /etc/passwd on the host would
			// find this user.
			planted := "mallory:x:0:0:planted on the host:/:/bin/sh\n"
			if err := os.WriteFile(hostPasswd, []byte(planted), 0o644); err != nil {
				t.Fatalf("plant %s: %v", hostPasswd, err)
			}
			defer os.Remove(hostPasswd)
			wantError(t, evilRun(t, e, "-u", "mallory", image, "true"), 125, "mallory")
			r := evilRun(t, e, image, "cat", "/etc/passwd")
			if strings.Contains(r.stdout, "mallory") {
				t.Errorf("%s\nthe container read the host's %s", r, hostPasswd)
			}
			unknownUser(t, e, image)
		}},
		{"evil-passwd-host:shadow", "", func(t *testing.T, e *env, image string) {
			r := evilRun(t, e, image, "cat", "/etc/passwd")
			if r.code == 0 || r.stdout != "" {
				t.Errorf("%s\nwant /etc/passwd, a link to /etc/shadow, unreadable: the image has no shadow", r)
			}
			unknownUser(t, e, image)
		}},
		{"evil-passwd-fifo:latest", "", unknownUserAndGroup},
		{"evil-passwd-zero:latest", "", unknownUserAndGroup},
	} {
		t.Run(tc.image, func(t *testing.T) {
			// A run killed halfway leaves the planted file behind; it is
			// this test's own, so clear it rather than fail every later run.
			if _, err := os.Lstat(hostPasswd); err == nil {
				if err := os.Remove(hostPasswd); err != nil {
					t.Fatalf("%s exists before the test and cannot be removed: %v", hostPasswd, err)
				}
			}
			core, tmp := corePattern(), tmpNames()
			e := isolatedEnv(t)
			image := ref(tc.image)

			r := evilRun(t, e, image, "true")
			if tc.refused != "" {
				wantError(t, r, 125, tc.refused)
				if n := strings.Count(r.stderr, "\n"); n != 1 {
					t.Errorf("%s\nwant the one line of lodger's refusal", r)
				}
				// Refused before anything ran: --rm left nothing.
				if r := e.lodger(t, "ps", "-a", "-q"); r.code != 0 || r.stdout != "" {
					t.Errorf("%s\nwant no container left by a refused run --rm", r)
				}
			} else {
				wantOK(t, r)
				wantProbe(t, evilRun(t, e, image, "sh", "-c", probeScript))
				if tc.extra != nil {
					tc.extra(t, e, image)
				}
			}

			if got := corePattern(); got != core {
				t.Errorf("the host's core_pattern changed from %q to %q", core, got)
			}
			if got := tmpNames(); !slices.Equal(got, tmp) {
				t.Errorf("the host's /tmp had %q of the names a runtime puts in /dev, now %q", tmp, got)
			}
			wantConfined(t, e)
		})
	}
}

// hostPasswd is the host file evil-passwd-host:latest's /etc/passwd links
// to (tests/imagegen).
const hostPasswd = "/tmp/lodger-host-passwd"

// checkerReport is the JSON tests/checker prints.
type checkerReport struct {
	UID          int                   `json:"uid"`
	GID          int                   `json:"gid"`
	EUID         int                   `json:"euid"`
	EGID         int                   `json:"egid"`
	Groups       []int                 `json:"groups"`
	PID          int                   `json:"pid"`
	Capabilities map[string]checkerCap `json:"capabilities"`
	CapLastCap   int                   `json:"capLastCap"`
	NoNewPrivs   int                   `json:"noNewPrivs"`
	Seccomp      int                   `json:"seccomp"`
	// SeccompFilters counts the filters: the profile's and, with the
	// opt-in bypass, the network's connect filter.
	SeccompFilters int `json:"seccompFilters"`
	Rlimits        map[string]struct {
		Soft int64 `json:"soft"`
		Hard int64 `json:"hard"`
	} `json:"rlimits"`
	FDs      map[int]string `json:"fds"`
	Mounts   []checkerMount `json:"mounts"`
	Hostname string         `json:"hostname"`
	Cwd      string         `json:"cwd"`
	Env      []string       `json:"env"`
	UIDMap   []string       `json:"uidMap"`
	Errors   []string       `json:"errors"`
}

type checkerCap struct {
	Hex   string   `json:"hex"`
	Names []string `json:"names"`
}

type checkerMount struct {
	Mountpoint string   `json:"mountpoint"`
	FSType     string   `json:"fstype"`
	Options    []string `json:"options"`
}

// capMask is one capability set as a number.
func (r checkerReport) capMask(t *testing.T, set string) uint64 {
	t.Helper()
	c, ok := r.Capabilities[set]
	if !ok {
		t.Fatalf("checker reported no %s", set)
	}
	m, err := strconv.ParseUint(c.Hex, 16, 64)
	if err != nil {
		t.Fatalf("checker %s %q: %v", set, c.Hex, err)
	}
	return m
}

// mount returns the last (topmost) mount on mountpoint.
func (r checkerReport) mount(mountpoint string) (checkerMount, bool) {
	var m checkerMount
	found := false
	for _, x := range r.Mounts {
		if x.Mountpoint == mountpoint {
			m, found = x, true
		}
	}
	return m, found
}

func (r checkerReport) env(key string) (string, bool) {
	for _, kv := range r.Env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v, true
		}
	}
	return "", false
}

func parseChecker(t *testing.T, out string) checkerReport {
	t.Helper()
	var r checkerReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("parse the checker's report: %v\n%s", err, out)
	}
	if len(r.Errors) > 0 {
		t.Errorf("the checker could not read everything: %q", r.Errors)
	}
	return r
}

// runChecker runs the checker image with flags in e.
func runChecker(t *testing.T, e *env, flags ...string) checkerReport {
	t.Helper()
	r := e.runRm(t, append(flags, ref("checker:latest"))...)
	wantOK(t, r)
	return parseChecker(t, r.stdout)
}

// hostRlimits returns this process's resource limits by checker name.
func hostRlimits(t *testing.T) map[string]syscall.Rlimit {
	t.Helper()
	out := map[string]syscall.Rlimit{}
	for name, res := range map[string]int{
		"RLIMIT_AS": syscall.RLIMIT_AS, "RLIMIT_CORE": syscall.RLIMIT_CORE, "RLIMIT_CPU": syscall.RLIMIT_CPU,
		"RLIMIT_DATA": syscall.RLIMIT_DATA, "RLIMIT_FSIZE": syscall.RLIMIT_FSIZE, "RLIMIT_NOFILE": syscall.RLIMIT_NOFILE,
		"RLIMIT_STACK": syscall.RLIMIT_STACK,
	} {
		var l syscall.Rlimit
		if err := syscall.Getrlimit(res, &l); err != nil {
			t.Fatal(err)
		}
		out[name] = l
	}
	return out
}

func limit(v uint64) int64 {
	if v == ^uint64(0) {
		return -1
	}
	return int64(v)
}

func hasOption(m checkerMount, opt string) bool { return slices.Contains(m.Options, opt) }

// TestChecker runs tests/checker under flag combinations and compares
// every field it reports with what the flags asked for, in the spirit of
// the OCI runtime-tools validation suite.
func TestChecker(t *testing.T) {
	const def = dockerDefaultCaps
	all := allCaps(t)
	masked := onHost(maskedPaths)
	readonly := onHost(readonlyPaths)
	host := hostRlimits(t)

	// common holds for every container: nothing leaked, no inheritable or
	// ambient capabilities, the runtime's mounts in place.
	common := func(t *testing.T, r checkerReport, flags []string) {
		t.Helper()
		privileged := slices.Contains(flags, "--privileged")
		if got := fdsOf(r); !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("open descriptors %v", r.FDs)
		}
		if r.capMask(t, "CapInh") != 0 || r.capMask(t, "CapAmb") != 0 {
			t.Errorf("CapInh %s, CapAmb %s: want both empty", r.Capabilities["CapInh"].Hex, r.Capabilities["CapAmb"].Hex)
		}
		if r.EUID != r.UID || r.EGID != r.GID {
			t.Errorf("uid %d euid %d gid %d egid %d: want real and effective ids equal", r.UID, r.EUID, r.GID, r.EGID)
		}
		if len(r.UIDMap) == 0 || !strings.HasPrefix(r.UIDMap[0], "0 "+strconv.Itoa(os.Getuid())+" 1") {
			t.Errorf("uid_map %q: want container root to be the user", r.UIDMap)
		}
		for _, want := range []struct {
			mountpoint, fstype string
			options            []string
		}{
			{"/proc", "proc", []string{"nosuid", "nodev", "noexec"}},
			{"/dev", "tmpfs", []string{"nosuid"}},
			{"/dev/pts", "devpts", []string{"nosuid", "noexec"}},
			{"/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}},
			{"/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}},
			{"/sys", "sysfs", []string{"ro"}},
			{"/etc/hosts", "", nil},
			{"/etc/hostname", "", nil},
			{"/etc/resolv.conf", "", nil},
		} {
			m, ok := r.mount(want.mountpoint)
			if !ok {
				t.Errorf("no mount on %s", want.mountpoint)
				continue
			}
			if want.fstype != "" && m.FSType != want.fstype {
				t.Errorf("%s is %s, want %s", want.mountpoint, m.FSType, want.fstype)
			}
			if want.mountpoint == "/proc" && slices.Contains(flags, "--pid") {
				// The session's /proc, bound: its flags are the
				// session's (a nit, not a hole: procfs has no setuid
				// files or devices).
				continue
			}
			for _, o := range want.options {
				if !hasOption(m, o) {
					t.Errorf("%s mounted %s, want %s", want.mountpoint, strings.Join(m.Options, ","), o)
				}
			}
		}
		// Every mount under /sys is read-only, not only the top.
		for _, m := range r.Mounts {
			if strings.HasPrefix(m.Mountpoint, "/sys/") && !hasOption(m, "ro") {
				t.Errorf("%s (%s) is mounted %s under read-only /sys", m.Mountpoint, m.FSType, strings.Join(m.Options, ","))
			}
		}
		for _, p := range masked {
			m, ok := r.mount(p)
			switch {
			case privileged && ok:
				t.Errorf("--privileged: %s masked", p)
			case !privileged && !ok:
				t.Errorf("%s not masked", p)
			case !privileged && m.FSType == "tmpfs" && !hasOption(m, "ro"):
				t.Errorf("masked %s mounted %s, want ro", p, strings.Join(m.Options, ","))
			}
		}
		for _, p := range readonly {
			if m, ok := r.mount(p); !privileged && (!ok || !hasOption(m, "ro")) {
				t.Errorf("%s not read-only (%+v)", p, m)
			}
		}
		// lodger changes no limit unless asked; the Go runtime raises its
		// own soft RLIMIT_NOFILE, so only its hard limit can be compared
		// (TestSecurityRlimits reads the soft one with busybox).
		for name, h := range host {
			got, ok := r.Rlimits[name]
			if !ok {
				t.Errorf("no %s reported", name)
				continue
			}
			if got.Hard != limit(h.Max) || (name != "RLIMIT_NOFILE" && got.Soft != limit(h.Cur)) {
				t.Errorf("%s soft %d hard %d, want the caller's %d %d", name, got.Soft, got.Hard, limit(h.Cur), limit(h.Max))
			}
		}
	}
	// defaultRoot is what a root container with default privileges shows.
	defaultRoot := func(t *testing.T, r checkerReport) {
		t.Helper()
		if r.UID != 0 || r.GID != 0 || len(r.Groups) != 0 {
			t.Errorf("uid %d gid %d groups %v, want root with no supplementary groups", r.UID, r.GID, r.Groups)
		}
		for _, set := range []string{"CapPrm", "CapEff", "CapBnd"} {
			if got := r.capMask(t, set); got != def {
				t.Errorf("%s %016x %v, want Docker's default %016x", set, got, r.Capabilities[set].Names, def)
			}
		}
		if r.NoNewPrivs != 0 || r.Seccomp != 2 {
			t.Errorf("NoNewPrivs %d Seccomp %d, want 0 and 2 (filter)", r.NoNewPrivs, r.Seccomp)
		}
	}
	caps := func(t *testing.T, r checkerReport, prm, eff, bnd uint64) {
		t.Helper()
		for set, want := range map[string]uint64{"CapPrm": prm, "CapEff": eff, "CapBnd": bnd} {
			if got := r.capMask(t, set); got != want {
				t.Errorf("%s %016x %v, want %016x", set, got, r.Capabilities[set].Names, want)
			}
		}
	}
	groups := func(t *testing.T, r checkerReport, want ...int) {
		t.Helper()
		got := slices.Compact(slices.Sorted(slices.Values(r.Groups)))
		if slices.Sort(want); !slices.Equal(got, want) {
			t.Errorf("groups %v, want %v", r.Groups, want)
		}
	}

	for _, tc := range []struct {
		name  string
		flags []string
		check func(t *testing.T, r checkerReport)
	}{
		{"default", nil, func(t *testing.T, r checkerReport) {
			defaultRoot(t, r)
			if r.PID != 1 || r.Cwd != "/" {
				t.Errorf("pid %d cwd %q, want pid 1 in /", r.PID, r.Cwd)
			}
			if len(r.Hostname) != 12 || strings.Trim(r.Hostname, "0123456789abcdef") != "" {
				t.Errorf("hostname %q, want the short container id", r.Hostname)
			}
			for k, want := range map[string]string{
				"PATH":      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"IMAGE_VAR": "from-image",
				"HOME":      "/root",
				"HOSTNAME":  r.Hostname,
			} {
				if v, ok := r.env(k); !ok || v != want {
					t.Errorf("env %q: want %s=%s", r.Env, k, want)
				}
			}
		}},
		{"user alice", []string{"-u", "alice"}, func(t *testing.T, r checkerReport) {
			if r.UID != 1000 || r.GID != 1000 {
				t.Errorf("uid %d gid %d, want alice's 1000 1000", r.UID, r.GID)
			}
			// alice is in staff (50) and audio (29) in the image's /etc/group.
			groups(t, r, 29, 50)
			caps(t, r, 0, 0, def)
			if v, _ := r.env("HOME"); v != "/home/alice" {
				t.Errorf("HOME %q, want /home/alice", v)
			}
		}},
		{"user alice group-add", []string{"-u", "alice", "--group-add", "4242", "--group-add", "staff"}, func(t *testing.T, r checkerReport) {
			groups(t, r, 29, 50, 4242)
			if len(r.Groups) != 3 {
				t.Logf("groups %v: staff listed twice", r.Groups)
			}
		}},
		{"cap-drop ALL", []string{"--cap-drop", "ALL"}, func(t *testing.T, r checkerReport) {
			caps(t, r, 0, 0, 0)
			if r.UID != 0 || r.Seccomp != 2 {
				t.Errorf("uid %d seccomp %d, want root under the filter", r.UID, r.Seccomp)
			}
		}},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}, func(t *testing.T, r checkerReport) {
			caps(t, r, def, def, def)
			if r.NoNewPrivs != 1 {
				t.Errorf("NoNewPrivs %d, want 1", r.NoNewPrivs)
			}
		}},
		{"privileged", []string{"--privileged"}, func(t *testing.T, r checkerReport) {
			caps(t, r, all, all, all)
			// No profile, and no connect filter without the opt-in
			// bypass: no filter at all.
			if r.Seccomp != 0 || r.SeccompFilters != 0 || r.NoNewPrivs != 0 {
				t.Errorf("Seccomp %d (%d filters) NoNewPrivs %d, want no filter", r.Seccomp, r.SeccompFilters, r.NoNewPrivs)
			}
			if r.CapLastCap < 0 || all != 1<<(r.CapLastCap+1)-1 {
				t.Errorf("cap_last_cap %d inside, the host's gives %016x", r.CapLastCap, all)
			}
		}},
		{"workdir env hostname", []string{"-w", "/tmp/x", "-e", "A=B", "--hostname", "h"}, func(t *testing.T, r checkerReport) {
			defaultRoot(t, r)
			if r.Cwd != "/tmp/x" || r.Hostname != "h" {
				t.Errorf("cwd %q hostname %q, want /tmp/x and h", r.Cwd, r.Hostname)
			}
			for k, want := range map[string]string{"A": "B", "HOSTNAME": "h"} {
				if v, ok := r.env(k); !ok || v != want {
					t.Errorf("env %q: want %s=%s", r.Env, k, want)
				}
			}
		}},
		{"network host", []string{"--network", "host"}, defaultRoot},
		{"pid host", []string{"--pid", "host"}, func(t *testing.T, r checkerReport) {
			defaultRoot(t, r)
			if r.PID == 1 {
				t.Errorf("pid 1 with --pid host")
			}
		}},
		{"init", []string{"--init"}, func(t *testing.T, r checkerReport) {
			defaultRoot(t, r)
			if r.PID == 1 {
				t.Errorf("pid 1 with --init, want the reaper there")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runChecker(t, shared, tc.flags...)
			common(t, r, tc.flags)
			tc.check(t, r)
			if t.Failed() {
				b, _ := json.MarshalIndent(r, "", "  ")
				t.Logf("lodger run %s checker:\n%s", shellQuote(tc.flags), b)
			}
		})
	}
}

// TestSecurityRlimits checks limits with busybox (the checker, a Go
// program, raises its own soft RLIMIT_NOFILE).
func TestSecurityRlimits(t *testing.T) {
	// A child of this Go program gets the soft limit the program started
	// with, as lodger's container should.
	out, err := exec.Command("sh", "-c", "ulimit -Sn; ulimit -Hn").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("inherited", func(t *testing.T) {
		wantStdout(t, runRm(t, busybox, "sh", "-c", "ulimit -Sn; ulimit -Hn"), string(out))
	})
	t.Run("--ulimit", func(t *testing.T) {
		wantStdout(t, runRm(t, "--ulimit", "nofile=512:1024", "--ulimit", "core=0:0", busybox, "sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Hc"), "512\n1024\n0\n")
	})
}
