//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	"golang.org/x/sys/unix"
)

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
		{"exit 200", []string{"sh", "-c", "exit 200"}, 200, ""},
		{"exit 255", []string{"sh", "-c", "exit 255"}, 255, ""},
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

// startRun starts `lodger run --rm -q IMAGE ARGS...` in e and waits until a
// process named ready runs in the container.
func startRun(t *testing.T, e *env, ready string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	cmd := e.command(ctx, append([]string{"run", "--rm", "-q", noTLS, busybox}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killTree(cmd.Process.Pid) })
	if _, err := waitDescendant(cmd.Process.Pid, ready, 60*time.Second); err != nil {
		killTree(cmd.Process.Pid)
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
	killContainer(t, shared)
}

// killContainer runs `sleep 30` in e, SIGKILLs the sleep from the host and
// expects lodger to exit 137. (From inside, `kill -9 $$` would do nothing:
// the kernel shields a pid namespace's init from its own namespace.)
func killContainer(t *testing.T, e *env) {
	t.Helper()
	cmd, _, stderr := startRun(t, e, "sleep", "sleep", "30")
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

// TestRunForwardsSignals signals lodger: the container's shell must get
// the signal and exit through its trap.
func TestRunForwardsSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGTERM, "TERM", 42},
		{syscall.SIGINT, "INT", 43},
		{syscall.SIGHUP, "HUP", 44},
		{syscall.SIGUSR1, "USR1", 45},
		{syscall.SIGQUIT, "QUIT", 46},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := fmt.Sprintf(`trap "echo got %s; exit %d" %s; while true; do sleep 0.1; done`, tc.name, tc.code, tc.name)
			cmd, stdout, stderr := startRun(t, shared, "sleep", "sh", "-c", script)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd, stderr); code != tc.code {
				t.Errorf("lodger exited %d, want %d from the container's %s trap; stdout: %q stderr: %q", code, tc.code, tc.name, stdout, stderr)
			}
			if got, want := stdout.String(), "got "+tc.name+"\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
		})
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
	t.Run("a megabyte each way", func(t *testing.T) {
		in := strings.Repeat("0123456789abcdef", 1<<16)
		r := call{env: shared, stdin: strings.NewReader(in)}.run(t, "run", "--rm", "-q", "-i", noTLS, busybox, "sh", "-c", "wc -c; head -c 1048576 /dev/zero")
		wantCode(t, r, 0)
		if want := "1048576\n" + strings.Repeat("\x00", 1<<20); r.stdout != want {
			t.Errorf("$ lodger %s\nwant stdout %q and 1 MiB of zeros, got %d bytes starting %q", shellQuote(r.args), "1048576\n", len(r.stdout), r.stdout[:min(len(r.stdout), 16)])
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
	if err := os.WriteFile(envFile, []byte("# a comment\n\nFROM_FILE=1\nSPACED=two words\nOVERRIDDEN=file\nFILE_PASSES_HOST\n"), 0o600); err != nil {
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
		{"--env-file KEY passes lodger's own", []string{"FILE_PASSES_HOST=yes"}, []string{"--env-file", envFile}, map[string]string{
			"FILE_PASSES_HOST": "yes",
		}},
		{"-e KEY= sets it empty", nil, []string{"-e", "EMPTY="}, map[string]string{
			"EMPTY": "",
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
	t.Run("-e KEY unset in lodger's environment", func(t *testing.T) {
		got := containerEnv(t, call{env: shared}, "-e", "UNSET_ON_HOST", busybox)
		if v, ok := got["UNSET_ON_HOST"]; ok {
			t.Errorf("container env has UNSET_ON_HOST=%q, want it absent as lodger has none", v)
		}
	})
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
		{"1000:4242", "1000", "4242", nil, "/home/alice"},
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
		{"--entrypoint '' clears it", []string{"--entrypoint", "", image, "echo", "cleared"}, "cleared\n"},
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
	r := runRm(t, busybox, "sh", "-c", "for f in /etc/hosts /etc/hostname /etc/resolv.conf; do test -f $f && echo $f; done; grep -q localhost /etc/hosts && echo localhost")
	wantStdout(t, r, "/etc/hosts\n/etc/hostname\n/etc/resolv.conf\nlocalhost\n")
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
	// onPTY runs lodger on a new terminal, types input once the
	// container's shell runs (when input is not empty), and returns what
	// the terminal showed and lodger's exit code. It also checks that
	// lodger leaves the terminal's modes as it found them.
	onPTY := func(t *testing.T, input string, args ...string) (string, int) {
		t.Helper()
		master, slave, err := openPTY()
		if err != nil {
			t.Fatalf("allocate a pty: %v", err)
		}
		defer master.Close()
		before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		cmd := shared.command(ctx, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			slave.Close()
			t.Fatal(err)
		}
		out := make(chan string, 1)
		go func() { out <- readPTY(master) }()
		if input != "" {
			if _, err := waitDescendant(cmd.Process.Pid, "sh", 60*time.Second); err != nil {
				t.Error(err)
			}
			if _, err := master.Write([]byte(input)); err != nil {
				t.Errorf("type into the terminal: %v", err)
			}
		}
		var stderr bytes.Buffer
		code := waitExit(t, cmd, &stderr)
		after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Lflag != before.Lflag || after.Cflag != before.Cflag {
			t.Errorf("lodger left the terminal modes changed: before %+v, after %+v", *before, *after)
		}
		slave.Close()
		if ctx.Err() != nil {
			t.Fatalf("lodger %s: timed out", shellQuote(args))
		}
		select {
		case s := <-out:
			// Two terminals (the container's and ours) each turn \n
			// into \r\n; a terminal shows that as one line end.
			return strings.ReplaceAll(s, "\r", ""), code
		case <-time.After(60 * time.Second):
			t.Fatalf("lodger %s: the terminal stayed open after lodger exited", shellQuote(args))
		}
		return "", code
	}
	t.Run("-t allocates a terminal", func(t *testing.T) {
		out, code := onPTY(t, "", "run", "--rm", "-q", "-t", noTLS, busybox, "sh", "-c", `tty; test -t 0 && test -t 1 && test -t 2 && echo "all ttys $TERM"`)
		if code != 0 || out != "/dev/pts/0\nall ttys xterm\n" {
			t.Errorf("exit %d, terminal showed %q; want exit 0 and %q", code, out, "/dev/pts/0\nall ttys xterm\n")
		}
	})
	t.Run("-t exit code", func(t *testing.T) {
		_, code := onPTY(t, "", "run", "--rm", "-q", "-t", noTLS, busybox, "sh", "-c", "exit 3")
		if code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
	})
	t.Run("-it runs an interactive shell", func(t *testing.T) {
		out, code := onPTY(t, "echo hi-$((6*7))\nexit 5\n", "run", "--rm", "-q", "-it", noTLS, busybox, "sh")
		if code != 5 || !strings.Contains(out, "hi-42\n") {
			t.Errorf("exit %d, terminal showed %q; want exit 5 and the shell's output hi-42", code, out)
		}
	})
	t.Run("no terminal without -t", func(t *testing.T) {
		wantCode(t, runRm(t, busybox, "test", "-t", "1"), 1)
	})
}
