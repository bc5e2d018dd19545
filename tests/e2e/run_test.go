//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var busybox = ref("busybox:latest")

// TestRunExitCodes checks Docker's exit code convention end to end.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // a word the error must hold, for lodger's own errors
	}{
		{"success", []string{"true"}, 0, ""},
		{"failure", []string{"false"}, 1, ""},
		{"exit 7", []string{"sh", "-c", "exit 7"}, 7, ""},
		{"not executable", []string{"/etc/passwd"}, 126, "/etc/passwd"},
		{"directory", []string{"/etc"}, 126, "/etc"},
		{"not found", []string{"no-such-command"}, 127, "no-such-command"},
		{"not found by path", []string{"/no/such/file"}, 127, "/no/such/file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runRm(t, append([]string{busybox}, tc.args...)...)
			if tc.stderr == "" {
				wantCode(t, r, tc.code)
				return
			}
			wantError(t, r, tc.code, tc.stderr)
		})
	}
}

// startRun starts `lodger run --rm -q IMAGE ARGS...` in the shared
// environment and waits until a process named ready runs in the container.
func startRun(t *testing.T, ready string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	cmd := shared.command(ctx, append([]string{"run", "--rm", "-q", noTLS, busybox}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if _, err := waitDescendant(cmd.Process.Pid, ready, 20*time.Second); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return cmd, &stdout, &stderr
}

// waitExit waits for cmd and returns its exit code, failing when lodger
// itself died of a signal.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("lodger was killed by %s instead of reporting the container's end; stderr: %s", ws.Signal(), stderr)
		}
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait for lodger: %v; stderr: %s", err, stderr)
	}
	return 0
}

// TestRunKilledBySignal kills the container's process from the host: lodger
// must exit 128+9.
func TestRunKilledBySignal(t *testing.T) {
	cmd, _, stderr := startRun(t, "sleep", "sleep", "30")
	pid, ok := findDescendant(cmd.Process.Pid, "sleep")
	if !ok {
		t.Fatal("the container's sleep vanished")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the container's sleep (pid %d): %v", pid, err)
	}
	if code := waitExit(t, cmd, stderr); code != 137 {
		t.Errorf("lodger exited %d, want 137 (128+SIGKILL); stderr: %s", code, stderr)
	}
}

// TestRunForwardsSignals sends SIGTERM to lodger: the container's shell
// must get it and exit through its trap.
func TestRunForwardsSignals(t *testing.T) {
	cmd, stdout, stderr := startRun(t, "sleep", "sh", "-c", `trap "echo got TERM; exit 42" TERM; while true; do sleep 0.1; done`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, stderr); code != 42 {
		t.Errorf("lodger exited %d, want 42 from the container's TERM trap; stdout: %s stderr: %s", code, stdout, stderr)
	}
	if got := stdout.String(); got != "got TERM\n" {
		t.Errorf("stdout %q, want %q", got, "got TERM\n")
	}
}

// TestRunStdio checks that the container's stdout and stderr reach lodger's
// own, unmixed, and that stdin is passed only with -i.
func TestRunStdio(t *testing.T) {
	t.Run("stdout and stderr", func(t *testing.T) {
		r := runRm(t, busybox, "sh", "-c", "echo out; echo err >&2; echo out2")
		wantCode(t, r, 0)
		if r.stdout != "out\nout2\n" || r.stderr != "err\n" {
			t.Errorf("%s\nwant stdout %q and stderr %q", r, "out\nout2\n", "err\n")
		}
	})
	t.Run("stdin with -i", func(t *testing.T) {
		r := call{env: shared, stdin: strings.NewReader("hi\nthere\n")}.run(t, "run", "--rm", "-q", "-i", noTLS, busybox, "cat")
		wantStdout(t, r, "hi\nthere\n")
	})
	t.Run("stdin closed with -i", func(t *testing.T) {
		r := call{env: shared, stdin: strings.NewReader("")}.run(t, "run", "--rm", "-q", "-i", noTLS, busybox, "wc", "-c")
		wantCode(t, r, 0)
		if strings.TrimSpace(r.stdout) != "0" {
			t.Errorf("%s\nwant wc to count 0 bytes", r)
		}
	})
	t.Run("no stdin without -i", func(t *testing.T) {
		r := call{env: shared, stdin: strings.NewReader("hi\n")}.run(t, "run", "--rm", "-q", noTLS, busybox, "cat")
		wantStdout(t, r, "")
	})
}

// containerEnv runs env in the container and returns it as a map.
func containerEnv(t *testing.T, c call, args ...string) map[string]string {
	t.Helper()
	r := c.run(t, append(append([]string{"run", "--rm", "-q", noTLS}, args...), "env")...)
	wantCode(t, r, 0)
	m := map[string]string{}
	for _, l := range lines(r.stdout) {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

func TestRunEnv(t *testing.T) {
	envFile := shared.tmp + "/env-file"
	if err := os.WriteFile(envFile, []byte("# a comment\n\nFROM_FILE=1\nSPACED=two words\nOVERRIDDEN=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string // lodger's own environment
		flags []string
		want  map[string]string
	}{
		{"from image", nil, nil, map[string]string{
			"IMAGE_VAR": "from-image",
			"PATH":      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME":      "/root",
		}},
		{"-e overrides image", nil, []string{"-e", "IMAGE_VAR=override", "-e", "NEW=x=y"}, map[string]string{
			"IMAGE_VAR": "override",
			"NEW":       "x=y",
		}},
		{"-e KEY passes lodger's own", []string{"PASSED=from-host"}, []string{"-e", "PASSED"}, map[string]string{
			"PASSED": "from-host",
		}},
		{"--env-file", nil, []string{"--env-file", envFile}, map[string]string{
			"FROM_FILE":  "1",
			"SPACED":     "two words",
			"OVERRIDDEN": "file",
			"IMAGE_VAR":  "from-image",
		}},
		{"-e beats --env-file", nil, []string{"--env-file", envFile, "-e", "OVERRIDDEN=flag"}, map[string]string{
			"FROM_FILE":  "1",
			"OVERRIDDEN": "flag",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := containerEnv(t, call{env: shared, extra: tc.extra}, append(tc.flags, busybox)...)
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("container env %s=%q (set: %v), want %q; whole env: %v", k, g, ok, v, got)
				}
			}
		})
	}
	t.Run("host environment does not leak", func(t *testing.T) {
		got := containerEnv(t, call{env: shared, extra: []string{"LEAK_CHECK=1"}}, busybox)
		for _, k := range []string{"LEAK_CHECK", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TMPDIR"} {
			if v, ok := got[k]; ok {
				t.Errorf("container env has the host's %s=%q", k, v)
			}
		}
		if strings.HasPrefix(got["HOME"], shared.home) {
			t.Errorf("container HOME=%q is the host's", got["HOME"])
		}
	})
}

// idOutput is what busybox id printed.
type idOutput struct {
	uid, gid string
	groups   []string
}

var idRE = regexp.MustCompile(`^uid=(\d+)\S* gid=(\d+)\S*(?: groups=(\S+))?$`)

func parseID(t *testing.T, r result) idOutput {
	t.Helper()
	m := idRE.FindStringSubmatch(strings.TrimSpace(strings.SplitN(r.stdout, "\n", 2)[0]))
	if m == nil {
		t.Fatalf("%s\ncannot parse id output", r)
	}
	out := idOutput{uid: m[1], gid: m[2]}
	if m[3] != "" {
		for _, g := range strings.Split(m[3], ",") {
			num, _, _ := strings.Cut(g, "(")
			out.groups = append(out.groups, num)
		}
	}
	sort.Strings(out.groups)
	return out
}

func TestRunUser(t *testing.T) {
	for _, tc := range []struct {
		user       string
		uid, gid   string
		wantGroups []string // groups that must be among the supplementary ones
		home       string
	}{
		{"", "0", "0", nil, "/root"},
		{"alice", "1000", "1000", []string{"29", "50"}, "/home/alice"},
		{"alice:staff", "1000", "50", nil, "/home/alice"},
		{"1000", "1000", "1000", nil, "/home/alice"},
		{"1000:50", "1000", "50", nil, "/home/alice"},
		{"alice:29", "1000", "29", nil, "/home/alice"},
		{"nobody", "65534", "65534", nil, "/nonexistent"},
		// A uid the image does not name is allowed, as in Docker; it
		// gets gid 0 and HOME=/.
		{"4242", "4242", "0", nil, "/"},
	} {
		name := tc.user
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			var flags []string
			if tc.user != "" {
				flags = []string{"-u", tc.user}
			}
			r := runRm(t, append(flags, busybox, "sh", "-c", `id; echo "$HOME"`)...)
			wantCode(t, r, 0)
			got := parseID(t, r)
			if got.uid != tc.uid || got.gid != tc.gid {
				t.Errorf("%s\nwant uid=%s gid=%s", r, tc.uid, tc.gid)
			}
			for _, g := range tc.wantGroups {
				if !slices.Contains(got.groups, g) {
					t.Errorf("%s\nwant group %s among the supplementary groups %v", r, g, got.groups)
				}
			}
			if ls := lines(r.stdout); len(ls) != 2 || ls[1] != tc.home {
				t.Errorf("%s\nwant HOME=%s", r, tc.home)
			}
		})
	}
	t.Run("alice owns her home", func(t *testing.T) {
		wantStdout(t, runRm(t, "-u", "alice", busybox, "sh", "-c", "touch ~/f && stat -c %u:%g ~/f"), "1000:1000\n")
	})
	t.Run("unknown user", func(t *testing.T) {
		wantError(t, runRm(t, "-u", "nosuchuser", busybox, "true"), 125, "nosuchuser")
	})
	t.Run("unknown group", func(t *testing.T) {
		wantError(t, runRm(t, "-u", "alice:nosuchgroup", busybox, "true"), 125, "nosuchgroup")
	})
}

// TestRunConfigImage checks how the image's Entrypoint, Cmd, WorkingDir,
// User and Env combine with the command line.
func TestRunConfigImage(t *testing.T) {
	image := ref("config:latest")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"entrypoint and cmd", []string{image}, "entry default-arg\n"},
		{"args replace cmd", []string{image, "x", "y"}, "entry x y\n"},
		{"--entrypoint replaces both", []string{"--entrypoint", "/bin/sh", image, "-c", "echo hi"}, "hi\n"},
		{"--entrypoint alone drops cmd", []string{"--entrypoint", "/bin/echo", image}, "\n"},
		{"workdir is created", []string{"--entrypoint", "pwd", image}, "/does/not/exist/yet\n"},
		{"user from image", []string{"--entrypoint", "id", image, "-u"}, "1000\n"},
		{"env from image", []string{"--entrypoint", "/bin/sh", image, "-c", `echo "$GREETING"`}, "hello from image\n"},
		{"-u beats image user", []string{"-u", "0", "--entrypoint", "id", image, "-u"}, "0\n"},
		{"-w beats image workdir", []string{"-w", "/tmp", "--entrypoint", "pwd", image}, "/tmp\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStdout(t, runRm(t, tc.args...), tc.want)
		})
	}
}

func TestRunWorkdir(t *testing.T) {
	wantStdout(t, runRm(t, "-w", "/new/dir", busybox, "pwd"), "/new/dir\n")
	wantStdout(t, runRm(t, "-u", "alice", "-w", "/new/dir", busybox, "pwd"), "/new/dir\n")
}

func TestRunHostname(t *testing.T) {
	t.Run("default is the short id", func(t *testing.T) {
		name := "e2e-hostname"
		r := lodger(t, "run", "-q", noTLS, "--name", name, busybox, "sh", "-c", "hostname; cat /etc/hostname")
		t.Cleanup(func() { lodger(t, "rm", name) })
		wantCode(t, r, 0)
		var id string
		for _, c := range shared.containers(t) {
			if c.Name == name {
				id = c.ID
			}
		}
		if len(id) != 64 {
			t.Fatalf("ps -a --format json has no 64-hex id for %s", name)
		}
		if want := id[:12] + "\n" + id[:12] + "\n"; r.stdout != want {
			t.Errorf("%s\nwant hostname and /etc/hostname %s", r, id[:12])
		}
	})
	t.Run("--hostname", func(t *testing.T) {
		r := runRm(t, "--hostname", "box.example", busybox, "sh", "-c", `hostname; cat /etc/hostname; echo "$HOSTNAME"; grep -c box.example /etc/hosts`)
		wantStdout(t, r, "box.example\nbox.example\nbox.example\n1\n")
	})
}

func TestRunEtcFiles(t *testing.T) {
	r := runRm(t, busybox, "sh", "-c", "for f in /etc/hosts /etc/hostname /etc/resolv.conf; do test -f $f && echo $f; done; grep -c localhost /etc/hosts")
	wantStdout(t, r, "/etc/hosts\n/etc/hostname\n/etc/resolv.conf\n1\n")
}

func TestRunPIDNamespace(t *testing.T) {
	r := runRm(t, busybox, "sh", "-c", `echo $$; ls /proc | grep -c '^[0-9]'`)
	wantCode(t, r, 0)
	ls := lines(r.stdout)
	if len(ls) != 2 || ls[0] != "1" {
		t.Fatalf("%s\nwant the shell to be pid 1", r)
	}
	// sh, ls and grep at most: the host's processes are not there.
	if n, err := strconv.Atoi(ls[1]); err != nil || n > 3 {
		t.Errorf("%s\nwant at most 3 processes in the container's /proc", r)
	}
}

func TestRunDev(t *testing.T) {
	r := runRm(t, busybox, "ls", "/dev")
	wantCode(t, r, 0)
	have := lines(r.stdout)
	for _, want := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"} {
		if !slices.Contains(have, want) {
			t.Errorf("%s\nwant /dev/%s", r, want)
		}
	}
	t.Run("devices work", func(t *testing.T) {
		r := runRm(t, busybox, "sh", "-c", "echo x >/dev/null && head -c 5 /dev/zero | wc -c && head -c 7 /dev/urandom | wc -c && if echo x >/dev/full; then echo full-accepted; fi")
		wantCode(t, r, 0)
		if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"5", "7"}) {
			t.Errorf("%s\nwant 5 and 7 bytes read, writing /dev/full refused", r)
		}
	})
	t.Run("shm is writable", func(t *testing.T) {
		wantStdout(t, runRm(t, busybox, "sh", "-c", "echo x >/dev/shm/f && cat /dev/shm/f"), "x\n")
	})
}

// interfaces lists the names in a /proc/net/dev.
func interfaces(procNetDev string) []string {
	var out []string
	for _, l := range lines(procNetDev) {
		name, _, ok := strings.Cut(l, ":")
		if ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	sort.Strings(out)
	return out
}

func TestRunNetwork(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		r := runRm(t, "--network", "none", busybox, "cat", "/proc/net/dev")
		wantCode(t, r, 0)
		if got := interfaces(r.stdout); !slices.Equal(got, []string{"lo"}) {
			t.Errorf("%s\nwant only lo, got %v", r, got)
		}
	})
	t.Run("host", func(t *testing.T) {
		host, err := os.ReadFile("/proc/net/dev")
		if err != nil {
			t.Fatal(err)
		}
		r := runRm(t, "--network", "host", busybox, "cat", "/proc/net/dev")
		wantCode(t, r, 0)
		if got, want := interfaces(r.stdout), interfaces(string(host)); !slices.Equal(got, want) {
			t.Errorf("%s\nwant the host's interfaces %v, got %v", r, want, got)
		}
	})
	t.Run("unknown mode", func(t *testing.T) {
		wantError(t, runRm(t, "--network", "bogus", busybox, "true"), 125, "bogus")
	})
}

// TestRunTTY runs lodger on a terminal the test allocates, as a user's shell
// would.
func TestRunTTY(t *testing.T) {
	onPTY := func(t *testing.T, args ...string) (string, int) {
		t.Helper()
		master, slave, err := openPTY()
		if err != nil {
			t.Fatalf("allocate a pty: %v", err)
		}
		defer master.Close()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		cmd := shared.command(ctx, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			slave.Close()
			t.Fatal(err)
		}
		slave.Close()
		out := make(chan string, 1)
		go func() { out <- readPTY(master) }()
		var stderr bytes.Buffer
		code := waitExit(t, cmd, &stderr)
		if ctx.Err() != nil {
			t.Fatalf("lodger %s: timed out", shellQuote(args))
		}
		select {
		case s := <-out:
			return strings.ReplaceAll(s, "\r\n", "\n"), code
		case <-time.After(5 * time.Second):
			t.Fatalf("lodger %s: the terminal stayed open after lodger exited", shellQuote(args))
		}
		return "", code
	}
	t.Run("-t allocates a terminal", func(t *testing.T) {
		out, code := onPTY(t, "run", "--rm", "-q", "-t", noTLS, busybox, "sh", "-c", `tty; test -t 0 && test -t 1 && test -t 2 && echo "all ttys $TERM"`)
		if code != 0 || out != "/dev/pts/0\nall ttys xterm\n" {
			t.Errorf("exit %d, terminal showed %q; want exit 0 and %q", code, out, "/dev/pts/0\nall ttys xterm\n")
		}
	})
	t.Run("-t exit code", func(t *testing.T) {
		_, code := onPTY(t, "run", "--rm", "-q", "-t", noTLS, busybox, "sh", "-c", "exit 3")
		if code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
	})
	t.Run("no terminal without -t", func(t *testing.T) {
		wantCode(t, runRm(t, busybox, "test", "-t", "1"), 1)
	})
}
