//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trapScript prints ready, then exits 42 through a TERM trap and 43
// through an INT trap; any other signal it is sent (USR1) it prints.
const trapScript = `trap "echo got TERM; exit 42" TERM; trap "echo got INT; exit 43" INT; trap "echo got USR1" USR1; echo ready; while true; do sleep 0.1; done`

// cli is a lodger process a test signals.
type cli struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  bytes.Buffer
	errb bytes.Buffer
}

// startCLI starts lodger args in e and waits until name's log says ready;
// when attached, it waits until lodger is connected to the monitor too.
func startCLI(t *testing.T, e *env, name string, attached bool, args ...string) *cli {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	c := &cli{t: t, cmd: e.command(ctx, args...)}
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.errb
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killTree(c.cmd.Process.Pid) })
	eventually(t, name+"'s ready line", func() bool {
		return strings.Contains(e.lodger(t, "logs", name).stdout, "ready")
	})
	if attached {
		eventually(t, "lodger to attach", func() bool { return hasSocket(c.cmd.Process.Pid) })
	}
	t.Cleanup(func() { e.lodger(t, "rm", "-f", name) })
	return c
}

func (c *cli) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

// wait returns lodger's exit code; it must have printed no error.
func (c *cli) wait() int {
	c.t.Helper()
	code := waitExit(c.t, c.cmd, &c.errb)
	if c.errb.Len() > 0 {
		c.t.Errorf("lodger %s printed on stderr: %s", shellQuote(c.cmd.Args[1:]), c.errb.String())
	}
	return code
}

// hasSocket says whether process pid holds a socket: lodger attach's (and
// run's, through a monitor) connection to the monitor, which it makes
// once it handles its signals.
func hasSocket(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			return true
		}
	}
	return false
}

// TestRunSigProxy: as Docker's run, a foreground lodger passes the signals
// it receives to the container by default, and with --sig-proxy=false
// passes none: SIGINT or SIGTERM end lodger alone, as 128+N, and the
// container runs on; attach --sig-proxy=false likewise (issue 13).
func TestRunSigProxy(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	t.Run("default", func(t *testing.T) {
		c := startCLI(t, e, "px", false, "run", "-q", "--name", "px", busybox, "sh", "-c", trapScript)
		c.signal(syscall.SIGTERM)
		if code := c.wait(); code != 42 {
			t.Errorf("run exited %d, want the container's 42 from its TERM trap", code)
		}
		if !strings.Contains(c.out.String(), "got TERM") {
			t.Errorf("stdout %q: want the container's trap to have run", c.out.String())
		}
	})
	t.Run("start -a", func(t *testing.T) {
		// Docker's start -a forwards the signals it receives too.
		wantCode(t, e.lodger(t, "create", "-q", "--name", "sa", busybox, "sh", "-c", trapScript), 0)
		c := startCLI(t, e, "sa", false, "start", "-a", "sa")
		c.signal(syscall.SIGTERM)
		if code := c.wait(); code != 42 {
			t.Errorf("start -a exited %d, want the container's 42 from its TERM trap", code)
		}
		if !strings.Contains(c.out.String(), "got TERM") {
			t.Errorf("stdout %q: want the container's trap to have run", c.out.String())
		}
	})
	t.Run("false", func(t *testing.T) {
		c := startCLI(t, e, "np", true, "run", "-q", "--sig-proxy=false", "--name", "np", busybox, "sh", "-c", trapScript)
		c.signal(syscall.SIGUSR1)
		time.Sleep(300 * time.Millisecond)
		c.signal(syscall.SIGINT)
		if code := c.wait(); code != 130 {
			t.Errorf("run --sig-proxy=false exited %d on SIGINT, want 130 (128+SIGINT)", code)
		}
		if out := c.out.String(); out != "ready\n" {
			t.Errorf("stdout %q, want the container's ready line alone: no signal may reach it", out)
		}
		wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Running}}", "np"), "true\n")
		if logs := e.lodger(t, "logs", "np").stdout; strings.Contains(logs, "got") {
			t.Errorf("logs %q: a signal reached the container", logs)
		}

		// attach --sig-proxy=false leaves on SIGTERM; attach proxies by default.
		c = startCLI(t, e, "np", true, "attach", "--sig-proxy=false", "np")
		c.signal(syscall.SIGTERM)
		if code := c.wait(); code != 143 {
			t.Errorf("attach --sig-proxy=false exited %d on SIGTERM, want 143", code)
		}
		wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Running}}", "np"), "true\n")
		c = startCLI(t, e, "np", true, "attach", "np")
		c.signal(syscall.SIGINT)
		if code := c.wait(); code != 43 {
			t.Errorf("attach exited %d on SIGINT, want the container's 43 from its INT trap", code)
		}
		if !strings.Contains(c.out.String(), "got INT") {
			t.Errorf("attach's stdout %q: want the INT trap's line", c.out.String())
		}
	})
}

// TestRunOOMScoreAdj: --oom-score-adj is the container's init's score and
// its children's, shown in inspect; out of Docker's range, or lowered below
// the user's own, which only CAP_SYS_RESOURCE on the host may do, it is
// refused with 125 saying so (issue 13).
func TestRunOOMScoreAdj(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	r := e.runRm(t, "--oom-score-adj", "500", busybox, "sh", "-c", "cat /proc/1/oom_score_adj; sh -c 'cat /proc/self/oom_score_adj'")
	wantStdout(t, r, "500\n500\n")
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "o", "--oom-score-adj", "1000", busybox, "sleep", "30"), 0)
	wantStdout(t, e.lodger(t, "exec", "o", "cat", "/proc/1/oom_score_adj"), "1000\n")
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.HostConfig.OomScoreAdj}}", "o"), "1000\n")
	wantCode(t, e.lodger(t, "rm", "-f", "o"), 0)
	wantStdout(t, e.runRm(t, busybox, "cat", "/proc/1/oom_score_adj"), "0\n")

	r = e.runRm(t, "--oom-score-adj", "1001", busybox, "true")
	wantError(t, r, 125, "--oom-score-adj 1001", "[-1000, 1000]")
	r = e.runRm(t, "--name", "low", "--oom-score-adj", "-500", busybox, "true")
	wantError(t, r, 125, "-500", "CAP_SYS_RESOURCE", "0 or more")
	if ps := e.lodger(t, "ps", "-aq"); ps.stdout != "" {
		t.Errorf("the refused runs left containers: %s", ps)
	}
}

// TestUpdate: Docker's update. --restart changes what a running detached
// container's monitor does at its next exit and what inspect shows; a
// resource limit, which lodger cannot apply with nothing delegated, is
// refused naming the flags and the reason, changing nothing (issue 13).
func TestUpdate(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	// Exits 3 once the gate opens, after the update, at each start: with
	// no policy it would stay exited.
	g := newGate(t, e)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "u", "-v", g.volume(), busybox, "sh", "-c", gateWait+"; exit 3"), 0)
	wantStdout(t, e.lodger(t, "update", "--restart", "on-failure:2", "u"), "u\n")
	g.open(t)
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "u"), "on-failure:2\n")
	// Two restarts, then it stays exited with its code.
	eventually(t, "u to have restarted twice and stopped", func() bool {
		r := e.lodger(t, "inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", "u")
		return r.stdout == "2 exited 3\n"
	})

	g = newGate(t, e)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "v", "--restart", "always", "-v", g.volume(), busybox, "sh", "-c", gateWait+"; exit 0"), 0)
	wantStdout(t, e.lodger(t, "update", "--restart", "no", "v"), "v\n")
	g.open(t)
	eventually(t, "v to exit and stay exited", func() bool {
		r := e.lodger(t, "inspect", "-f", "{{.State.Status}}", "v")
		return r.stdout == "exited\n"
	})
	time.Sleep(500 * time.Millisecond)
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}", "v"), "exited 0 no\n")

	r := e.lodger(t, "update", "-m", "64m", "--cpus", "1", "v")
	wantError(t, r, 1, "--memory, --cpus", "resource limits cannot be applied", "no writable cgroup is delegated")
	if r.stdout != "" {
		t.Errorf("%s\nwant nothing on stdout for a refused update", r)
	}
	wantError(t, e.lodger(t, "update", "v"), 1, "you must provide one or more flags")
	wantError(t, e.lodger(t, "update", "--restart", "sometimes", "v"), 1, "--restart")
	wantError(t, e.lodger(t, "update", "--restart", "always", "nosuch"), 1, "no such container")
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--rm", "--name", "w", busybox, "sleep", "30"), 0)
	wantError(t, e.lodger(t, "update", "--restart", "always", "w"), 1, "--rm")
	wantCode(t, e.lodger(t, "rm", "-f", "w"), 0)
}

// The v1 memory and pids cgroups tests/setup-host.sh delegates to the
// test user (as TestPauseFreezer's freezer).
var delegatedLimits = []string{"/sys/fs/cgroup/memory/lodger-e2e", "/sys/fs/cgroup/pids/lodger-e2e"}

// inCgroups runs lodger args in e from inside every cgroup of dirs.
func inCgroups(t *testing.T, e *env, dirs []string, args ...string) result {
	t.Helper()
	script := `for d in $DIRS; do echo $$ > "$d/cgroup.procs" || exit 99; done; exec "$@"`
	r, err := call{env: e, bin: "/bin/sh", extra: []string{"DIRS=" + strings.Join(dirs, " ")}}.do(append([]string{"-c", script, "sh", lodgerBin}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.args = args
	return r
}

// TestResourceLimitsDelegated: where memory and pids cgroups are
// delegated, run -m and --pids-limit write the limits into cgroups of
// the container's own, which hold its processes (and exec's) and enforce
// them; --cpus, with no cpu cgroup delegated, is the one warned about;
// update changes the limits of the running container; the cgroups go
// with the container's end (issue 13).
func TestResourceLimitsDelegated(t *testing.T) {
	for _, d := range delegatedLimits {
		if fi, err := os.Stat(d + "/cgroup.procs"); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Fatalf("%s is not delegated to this user (%v): run tests/setup-host.sh as root", d, err)
		}
	}
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	r := inCgroups(t, e, delegatedLimits, "info")
	if !strings.Contains(r.stdout, "limits:        --memory, --pids-limit applied, in cgroups of each container's own under the delegated ones; --cpus warned about, not applied") {
		t.Errorf("%s\nwant info to say which limits apply", r)
	}

	// Enforced: a fork past the pids limit fails; memory past the limit
	// is the OOM killer's (no swap on the test machines).
	r = inCgroups(t, e, delegatedLimits, "run", "--rm", "-q", "--pids-limit", "4", busybox, "sh", "-c",
		"for i in 1 2 3 4 5 6; do sleep 1 & done; wait")
	if r.code == 125 || !strings.Contains(r.stderr, "can't fork") {
		t.Errorf("%s\nwant the fifth process of --pids-limit 4 refused: can't fork", r)
	}
	r = inCgroups(t, e, delegatedLimits, "run", "--rm", "-q", "--pids-limit", "10", busybox, "sh", "-c",
		"for i in 1 2 3 4 5 6; do sleep 1 & done; wait")
	wantOK(t, r)
	r = inCgroups(t, e, delegatedLimits, "run", "--rm", "-q", "-m", "24m", busybox, "sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo survived`)
	if r.code != 137 || strings.Contains(r.stdout, "survived") {
		t.Errorf("%s\nwant the shell holding 100 MB under -m 24m killed (137)", r)
	}

	// Docker's record of it: the oom event before die, State.OOMKilled.
	r = inCgroups(t, e, delegatedLimits, "run", "-d", "-q", "--name", "oom", "-m", "24m", busybox, "sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\0' a)`)
	wantCode(t, r, 0)
	eventually(t, "oom to be killed", func() bool {
		return e.lodger(t, "inspect", "-f", "{{.State.Status}}", "oom").stdout == "exited\n"
	})
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "oom"), "true 137\n")
	wantStdout(t, e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container=oom", "--format", "{{.Action}}"),
		"create\nstart\noom\ndie\n")
	// The foreground run --rm killed above wrote one too.
	if r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "event=oom", "--format", "{{.Actor.Attributes.name}}"); len(lines(r.stdout)) != 2 || lines(r.stdout)[1] != "oom" {
		t.Errorf("%s\nwant two oom events: the foreground run's, then oom's", r)
	}
	wantCode(t, e.lodger(t, "rm", "oom"), 0)

	r = inCgroups(t, e, delegatedLimits, "run", "-d", "-q", "--name", "lim", "-m", "32m", "--pids-limit", "8", "--cpus", "0.5", busybox, "sleep", "60")
	wantCode(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "warning: --cpus not applied: no writable cpu cgroup is delegated to this user") {
		t.Errorf("%s\nwant one warning, for --cpus alone", r)
	}
	id := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.Id}}", "lim").stdout)
	pid := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.State.Pid}}", "lim").stdout)
	mem, pids := delegatedLimits[0]+"/lodger-"+id, delegatedLimits[1]+"/lodger-"+id
	read := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read %s: %v", f, err)
		}
		return strings.TrimSpace(string(b))
	}
	wantEqual(t, "memory.limit_in_bytes", read(mem+"/memory.limit_in_bytes"), "33554432")
	wantEqual(t, "pids.max", read(pids+"/pids.max"), "8")
	if procs := strings.Fields(read(mem + "/cgroup.procs")); !slices.Contains(procs, pid) {
		t.Errorf("the memory cgroup holds %v, want the container's process %s", procs, pid)
	}
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}", "lim"), "33554432 8 500000000\n")
	if r := e.lodger(t, "stats", "--no-stream", "--format", "{{.MemUsage}}", "lim"); !strings.HasSuffix(strings.TrimSpace(r.stdout), "/ 32MiB") {
		t.Errorf("%s\nwant stats' LIMIT to be the cgroup's 32MiB", r)
	}
	// exec's processes are the container's too.
	r = e.lodger(t, "exec", "lim", "sh", "-c", "cat /proc/self/cgroup | grep -c lodger-"+id)
	if strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("%s\nwant the exec'd process in the container's memory and pids cgroups", r)
	}

	// update, from outside the delegated cgroups: the container's own.
	wantStdout(t, e.lodger(t, "update", "-m", "64m", "--pids-limit", "20", "lim"), "lim\n")
	wantEqual(t, "memory.limit_in_bytes after update", read(mem+"/memory.limit_in_bytes"), "67108864")
	wantEqual(t, "pids.max after update", read(pids+"/pids.max"), "20")
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", "lim"), "67108864 20\n")
	wantError(t, e.lodger(t, "update", "--cpus", "1", "lim"), 1, "--cpus", "runs in no cpu cgroup of its own")
	wantError(t, e.lodger(t, "update", "--cpu-shares", "512", "lim"), 1, "--cpu-shares", "memory, CPUs and pids limits only")

	wantCode(t, e.lodger(t, "stop", "-t", "0", "lim"), 0)
	for _, d := range []string{mem, pids} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is still there after the container stopped", d)
		}
	}
	// A container started with nothing delegated has no cgroup to update.
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "free", busybox, "sleep", "60"), 0)
	wantError(t, e.lodger(t, "update", "-m", "64m", "free"), 1, "--memory", "runs in no memory cgroup of its own")
	wantCode(t, e.lodger(t, "rm", "-f", "lim", "free"), 0)
}
