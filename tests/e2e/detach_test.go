//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// psEntry is `ps -a --format json` with the state fields; ExitCode is
// read from Status ("Exited (5) ..."), nil when it says unknown.
type psEntry struct {
	containerRow
	ExitCode *int
}

var exitedStatus = regexp.MustCompile(`^Exited \((\d+)\)`)

func (e *env) ps(t *testing.T, name string) (psEntry, bool) {
	t.Helper()
	for _, row := range e.containers(t) {
		if row.Name == name {
			p := psEntry{containerRow: row}
			if m := exitedStatus.FindStringSubmatch(row.Status); m != nil {
				code, _ := strconv.Atoi(m[1])
				p.ExitCode = &code
			}
			return p, true
		}
	}
	return psEntry{}, false
}

// eventually polls cond for up to 60 s (only a failure waits that long).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	e := isolatedEnv(t)
	script := `trap 'echo got term; exit 5' TERM; echo up; echo warn >&2; while true; do sleep 0.1; done`
	r := e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "web", ref("busybox:latest"), "sh", "-c", script)
	wantCode(t, r, 0)
	if !fullID.MatchString(r.stdout) {
		t.Fatalf("%s\nwant the full container ID alone on stdout", r)
	}
	id := strings.TrimSpace(r.stdout)

	// The CLI has exited; the container runs on.
	row, ok := e.ps(t, "web")
	if !ok || row.State != "running" || !strings.HasPrefix(row.Status, "Up") {
		t.Fatalf("ps after run -d: %+v, want running", row)
	}
	if r := e.lodger(t, "ps", "-q"); !strings.Contains(r.stdout, id[:12]) {
		t.Errorf("%s\nwant the running container in ps without -a", r)
	}
	eventually(t, "the first log lines", func() bool {
		r := e.lodger(t, "logs", "web")
		return r.stdout == "up\n" && r.stderr == "warn\n"
	})
	if r := e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.Name}}", id[:8]); strings.TrimSpace(r.stdout) != "running /web" {
		t.Errorf("%s\nwant inspect by ID prefix to say running web", r)
	}
	r = e.lodger(t, "rm", "web")
	wantError(t, r, 1, "running")

	r = e.lodger(t, "stop", "-t", "5", "web")
	wantCode(t, r, 0)
	r = e.lodger(t, "wait", "web")
	wantStdout(t, r, "5\n")
	row, _ = e.ps(t, "web")
	if row.State != "exited" || row.ExitCode == nil || *row.ExitCode != 5 || !strings.HasPrefix(row.Status, "Exited (5)") {
		t.Errorf("ps after stop: %+v, want exited with code 5", row)
	}
	r = e.lodger(t, "logs", "-t", "web")
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\S+ got term$`).MatchString(r.stdout) {
		t.Errorf("%s\nwant the trap's last line, timestamped", r)
	}
	if r := e.lodger(t, "logs", "--tail", "1", "web"); r.stdout != "got term\n" {
		t.Errorf("%s\nwant only the last line", r)
	}
	wantCode(t, e.lodger(t, "rm", "web"), 0)
	wantNothingLeft(t, e)
}

func TestLogsFollowReturnsAtExit(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "counter", ref("busybox:latest"),
		"sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo last")
	wantCode(t, r, 0)
	start := time.Now()
	r = e.lodger(t, "logs", "-f", "counter")
	wantCode(t, r, 0)
	if want := "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n"; r.stdout != want {
		t.Errorf("%s\nwant every line, the last one too", r)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("logs -f took %v after the container exited", time.Since(start))
	}
	wantStdout(t, e.lodger(t, "wait", "counter"), "0\n")
}

func TestDetachedRm(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "--rm", "-q", "--tls-verify=false", ref("busybox:latest"), "sh", "-c", "sleep 0.3")
	wantCode(t, r, 0)
	eventually(t, "the --rm container to go", func() bool {
		return e.lodger(t, "ps", "-a", "-q").stdout == ""
	})
	wantNothingLeft(t, e)
}

func TestRmForceAndKill(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "k", ref("busybox:latest"), "sleep", "100"), 0)
	r := e.lodger(t, "kill", "-s", "TERM", "k")
	wantCode(t, r, 0)
	// sleep is pid 1 of its namespace: TERM without a handler does
	// nothing. The KILL after it finds the container running and is
	// what ends it: 137, where the TERM would have made it 143. (A ps
	// right after the TERM proves nothing: a dying container is still
	// running for a moment.)
	wantCode(t, e.lodger(t, "kill", "k"), 0)
	wantStdout(t, e.lodger(t, "wait", "k"), "137\n")
	wantCode(t, e.lodger(t, "rm", "k"), 0)
	// The control: a pid 1 with a handler gets the TERM.
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "h", ref("busybox:latest"),
		"sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 0.1; done"), 0)
	eventually(t, "the handler to be set", func() bool { return e.lodger(t, "logs", "h").stdout == "up\n" })
	wantCode(t, e.lodger(t, "kill", "-s", "TERM", "h"), 0)
	wantStdout(t, e.lodger(t, "wait", "h"), "7\n")
	wantCode(t, e.lodger(t, "rm", "h"), 0)

	wantCode(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "f", ref("busybox:latest"), "sleep", "100"), 0)
	wantCode(t, e.lodger(t, "rm", "-f", "f"), 0)
	wantNothingLeft(t, e)
	wantError(t, e.lodger(t, "kill", "nosuch"), 1, "nosuch")
	wantError(t, e.lodger(t, "kill", "-s", "BOGUS", "nosuch"), 1, "BOGUS")
}

// rm -f of a running --rm container races the container's own cleanup,
// which removes it the moment it has exited: rm -f must still succeed,
// naming it, and whichever removed it, the anonymous volume goes too and
// there is one destroy event (seen failing under load: "remove container
// w: identifier is not a container" when the cleanup won).
func TestRmForceAutoRemove(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	const n = 10
	for i := range n {
		name := fmt.Sprintf("auto%d", i)
		wantCode(t, e.lodger(t, "run", "-d", "--rm", "-q", "--name", name, "-v", "/anon", busybox, "sleep", "600"), 0)
		wantStdout(t, e.lodger(t, "rm", "-f", name), name+"\n")
	}
	// The cleanup that lost the race ends by itself.
	eventually(t, "no volume left", func() bool { return len(e.volumes(t)) == 0 })
	r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "type=container", "--filter", "event=destroy", "--format", "{{.Actor.Attributes.name}}")
	wantCode(t, r, 0)
	if got := lines(r.stdout); len(got) != n {
		t.Errorf("%s\nwant one destroy event for each of the %d containers", r, n)
	}
	wantNothingLeft(t, e)
}

// A monitor killed with SIGKILL takes its container with it; later commands
// must report it exited with an unknown code, never running, and rm -f
// must clean everything.
func TestMonitorKilled(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "orphan", ref("busybox:latest"), "sleep", "100")
	wantCode(t, r, 0)
	r = e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", "orphan")
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s\nwant the monitor's pid", r)
	}
	// The monitor is the small lodger-monitor program, not lodger: an
	// idle container must not keep the whole CLI in memory.
	exe, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if want, err := os.Stat(monitorBin); err != nil || !os.SameFile(exe, want) {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		t.Errorf("the monitor (pid %d) executes %s, want %s", pid, target, monitorBin)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the monitor to die", func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	row, ok := e.ps(t, "orphan")
	if !ok || row.State != "exited" || row.ExitCode != nil {
		t.Errorf("ps after the monitor died: %+v, want exited with an unknown code", row)
	}
	wantCode(t, e.lodger(t, "rm", "-f", "orphan"), 0)
	wantNothingLeft(t, e)
}

// A lodger without its monitor program says what is missing and how to
// install it, before it creates anything; a foreground run needs none.
func TestMonitorMissing(t *testing.T) {
	e := isolatedEnv(t)
	bin := filepath.Join(t.TempDir(), "lodger")
	copyExecutable(t, lodgerBin, bin)
	wantCode(t, e.lodger(t, "pull", "-q", noTLS, busybox), 0)
	for _, args := range [][]string{
		{"run", "-d", "--name", "nomon", busybox, "sleep", "100"},
		{"create", "--name", "nomon", busybox, "true"},
	} {
		wantError(t, e.runBin(t, bin, args...), 125, "lodger-monitor", filepath.Dir(bin), "make install")
	}
	if ids := lines(e.lodger(t, "ps", "-a", "-q").stdout); len(ids) > 0 {
		t.Errorf("containers left after the failed runs: %v", ids)
	}
	wantStdout(t, e.runBin(t, bin, "run", "--rm", busybox, "echo", "ok"), "ok\n")
	wantNothingLeft(t, e)
}

func TestDetachedStartErrors(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", "--rm", "--tls-verify=false", ref("busybox:latest"), "nosuchcmd")
	wantError(t, r, 127, "nosuchcmd")
	if r.stdout != "" {
		t.Errorf("%s\nwant no ID printed when the container did not start", r)
	}
	wantNothingLeft(t, e)
}

func TestExec(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "box", ref("busybox:latest"), "sleep", "100"), 0)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"runs in the container's pid namespace", []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, 0, "sleep 100 "},
		{"exit code", []string{"sh", "-c", "exit 9"}, 9, ""},
		{"not found", []string{"nosuch"}, 127, ""},
		{"not executable", []string{"/etc/passwd"}, 126, ""},
		{"default security", []string{"sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr -s '\\t' ' '"}, 0, "CapEff: 00000000a80425fb\nSeccomp: 2\n"},
		{"user and workdir", []string{"-u", "alice", "-w", "/tmp", "sh", "-c", "id -u; pwd"}, 0, "1000\n/tmp\n"},
		{"env", []string{"-e", "X=1", "sh", "-c", "echo $X $IMAGE_VAR"}, 0, "1 from-image\n"},
		{"working directory in /proc refused", []string{"-w", "/proc/self/fd/3", "true"}, 125, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.lodger(t, append([]string{"exec"}, append(append([]string{}, tt.args[:len(tt.args)-len(cmdOf(tt.args))]...), append([]string{"box"}, cmdOf(tt.args)...)...)...)...)
			wantCode(t, r, tt.code)
			if tt.out != "" && r.stdout != tt.out {
				t.Errorf("%s\nwant stdout %q", r, tt.out)
			}
		})
	}
	wantError(t, e.lodger(t, "exec", "nosuch", "true"), 125, "nosuch")
	wantCode(t, e.lodger(t, "stop", "-t", "1", "box"), 0)
	wantError(t, e.lodger(t, "exec", "box", "true"), 125, "not running")
	wantCode(t, e.lodger(t, "rm", "box"), 0)
	wantNothingLeft(t, e)
}

// cmdOf splits exec test arguments: leading flags (and their values) go
// before the container name, the rest is the command.
func cmdOf(args []string) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i += 2
	}
	return args[i:]
}

func TestCreateStart(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "create", "-q", "--tls-verify=false", "--name", "job", ref("busybox:latest"), "sh", "-c", "echo run; exit 4")
	wantCode(t, r, 0)
	if !fullID.MatchString(r.stdout) {
		t.Fatalf("%s\nwant the full container ID alone on stdout", r)
	}
	if row, _ := e.ps(t, "job"); row.State != "created" || row.Status != "Created" {
		t.Errorf("ps after create: %+v, want created", row)
	}
	// Each start runs the container again; -a shows this run's output
	// and exits with its code.
	for i := 0; i < 2; i++ {
		r = e.lodger(t, "start", "-a", "job")
		wantCode(t, r, 4)
		if r.stdout != "run\n" {
			t.Errorf("%s\nwant only this run's output", r)
		}
	}
	wantCode(t, e.lodger(t, "start", "job"), 0)
	wantStdout(t, e.lodger(t, "wait", "job"), "4\n")
	if r := e.lodger(t, "logs", "job"); r.stdout != "run\nrun\nrun\n" {
		t.Errorf("%s\nwant the output of all three runs", r)
	}
	wantCode(t, e.lodger(t, "rm", "job"), 0)
	wantError(t, e.lodger(t, "create", "--cap-add", "BOGUS", ref("busybox:latest")), 125, "BOGUS")
	wantError(t, e.lodger(t, "start", "nosuch"), 125, "nosuch")
	wantNothingLeft(t, e)
}

// attach to a detached -it container, type into it, and leave it with the
// detach keys: the container runs on; a second attach sees it exit.
func TestAttachDetachKeys(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-i", "-t", "-q", noTLS, "--name", "shell", busybox, "sh"), 0)

	// attach runs lodger attach on a new terminal; once lodger has put
	// the terminal in raw mode (in cooked mode the line discipline would
	// eat ctrl-q, START) and connected to the monitor, it types each of
	// steps' input and waits for its output to show, then returns what
	// the terminal showed and lodger's exit code. Nothing waits a fixed
	// time a loaded machine could overrun.
	type step struct{ input, want string }
	attach := func(steps ...step) (string, int) {
		t.Helper()
		master, slave, err := openPTY()
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
		defer cancel()
		cmd := e.command(ctx, "attach", "shell")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		term := newPTYReader(master)
		eventually(t, "lodger attach to set the terminal raw and connect", func() bool {
			tio, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
			return err == nil && tio.Lflag&unix.ICANON == 0 && hasSocket(cmd.Process.Pid)
		})
		for _, s := range steps {
			_, _ = master.Write([]byte(s.input))
			if s.want != "" {
				eventually(t, fmt.Sprintf("%q on the terminal", s.want), func() bool { return strings.Contains(term.String(), s.want) })
			}
		}
		err = cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return term.wait(t), code
	}

	out, code := attach(step{"echo hello-$((6*7))\n", "hello-42"}, step{"\x10\x11", ""})
	if code != 0 || !strings.Contains(out, "hello-42") {
		t.Errorf("attach then ctrl-p ctrl-q: exit %d, output %q; want 0 and the command's output", code, out)
	}
	if row, _ := e.ps(t, "shell"); row.State != "running" {
		t.Fatalf("after detaching: %+v, want the container still running", row)
	}
	out, code = attach(step{"exit 5\n", ""})
	if code != 5 {
		t.Errorf("attach, then the shell exits 5: lodger exit %d, output %q", code, out)
	}
	wantStdout(t, e.lodger(t, "wait", "shell"), "5\n")
	wantCode(t, e.lodger(t, "rm", "shell"), 0)
	wantError(t, e.lodger(t, "attach", "nosuch"), 1, "nosuch")
}

// wait on a --rm container prints its exit code, though the container is
// removed the moment it ends.
//
// The waits must have found their containers before these end: the
// containers end when the gate opens, 2 s after the waits started (a wait
// that starts after the removal rightly finds no such container, as
// Docker's does). Before, each container slept 0.2 s after run -d: a wait
// started later than that on a loaded machine failed.
func TestWaitRemoved(t *testing.T) {
	e := isolatedEnv(t)
	g := newGate(t, e)
	type waited struct {
		r   result
		err error
	}
	var waits []chan waited
	for i := range 5 {
		name := fmt.Sprintf("gone%d", i)
		wantCode(t, e.lodger(t, "run", "-d", "--rm", "-q", noTLS, "--name", name, "-v", g.volume(), busybox, "sh", "-c", fmt.Sprintf("%s; exit %d", gateWait, 3+i)), 0)
		ch := make(chan waited, 1)
		go func() {
			r, err := call{env: e}.do("wait", name)
			ch <- waited{r, err}
		}()
		waits = append(waits, ch)
	}
	time.Sleep(2 * time.Second)
	g.open(t)
	for i, ch := range waits {
		w := <-ch
		if w.err != nil {
			t.Fatal(w.err)
		}
		wantStdout(t, w.r, fmt.Sprintf("%d\n", 3+i))
	}
	// A wait returns at the exit; the cleanup removes the container a
	// moment later. Once it has, wait finds no such container.
	eventually(t, "the --rm containers to go", func() bool { return e.lodger(t, "ps", "-aq").stdout == "" })
	wantError(t, e.lodger(t, "wait", "gone0"), 1, "gone0")
	wantNothingLeft(t, e)
}

// The session keeper a user keeps running all the time is the small
// lodger-session program beside lodger, not lodger: the namespace child,
// its parent and the pause process under it.
func TestSessionKeeperProgram(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "--rm", "-q", noTLS, "--network", "none", busybox, "true"), 0)
	child := e.keeperPID()
	if child == 0 {
		t.Fatal("no session keeper after a run")
	}
	want, err := os.Stat(filepath.Join(filepath.Dir(lodgerBin), "lodger-session"))
	if err != nil {
		t.Fatalf("lodger-session beside lodger: %v", err)
	}
	pids := []int{child}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); err == nil {
		// pid (comm) state ppid ...
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				pids = append(pids, ppid)
			}
		}
	}
	// A child belongs to the thread that forked it, any of the
	// keeper's (a Go program forks from whichever thread runs).
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", child))
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 3 {
		t.Fatalf("keeper processes %v, want the child, its parent and the pause process", pids)
	}
	for _, pid := range pids {
		exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(exe, want) {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			t.Errorf("keeper process %d executes %s, want lodger-session", pid, target)
		}
	}
}
