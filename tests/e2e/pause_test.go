//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerPids are the host pids `lodger top` lists for name.
func containerPids(t *testing.T, e *env, name string) []int {
	t.Helper()
	r := e.lodger(t, "top", name)
	wantCode(t, r, 0)
	var out []int
	for i, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		if p, err := strconv.Atoi(f[1]); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// procState is the state letter in /proc/PID/stat, 0 when gone.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// TestPause: pause leaves every process of a container stopped (here, with
// no cgroup delegated, by signals), a container forking all the time
// included; ps says Paused; exec is refused; unpause resumes it; stop,
// kill and rm -f end a paused container (issue 13).
func TestPause(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "info")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "pause:         signals (SIGSTOP") {
		t.Errorf("%s\nwant info to say pause uses signals: this machine delegates no cgroup", r)
	}

	// Three writers: a background loop, the main loop, and a loop that
	// forks a new short-lived process all the time (the race pause must
	// win).
	script := `trap "exit 3" TERM
while :; do echo a >> /tmp/a; sleep 0.05; done &
while :; do sh -c 'echo c >> /tmp/c'; done &
while :; do echo b >> /tmp/b; sleep 0.05; done`
	r = e.lodger(t, "run", "-d", "-q", noTLS, "--name", "p", ref("busybox:latest"), "sh", "-c", script)
	wantCode(t, r, 0)
	size := func(f string) int {
		t.Helper()
		r := e.lodger(t, "exec", "p", "wc", "-c", f)
		wantCode(t, r, 0)
		n, _ := strconv.Atoi(strings.Fields(r.stdout)[0])
		return n
	}
	eventually(t, "the writers to start", func() bool { return size("/tmp/a") > 0 && size("/tmp/c") > 0 })

	r = e.lodger(t, "pause", "p")
	wantStdout(t, r, "p\n")
	pids := containerPids(t, e, "p")
	if len(pids) < 3 {
		t.Fatalf("top lists %v, want at least the three loops", pids)
	}
	for _, p := range pids {
		// A child that exited as its parent stopped stays a zombie
		// until the parent reaps it: dead, running nothing.
		if st := procState(p); st != 'T' && st != 'Z' {
			t.Errorf("process %d of the paused container is in state %q, want T (stopped)", p, st)
		}
	}
	row, _ := e.ps(t, "p")
	if !strings.HasPrefix(row.Status, "Up ") || !strings.HasSuffix(row.Status, "(Paused)") {
		t.Errorf("ps STATUS of a paused container is %q, want \"Up ... (Paused)\"", row.Status)
	}
	r = e.lodger(t, "exec", "p", "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.stderr, "paused") {
		t.Errorf("%s\nwant exec in a paused container refused, saying it is paused", r)
	}
	r = e.lodger(t, "pause", "p")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "is paused") {
		t.Errorf("%s\nwant a second pause refused: the container is paused", r)
	}
	// Nothing runs: the process list is the same a second later, every
	// one still stopped (a fork that escaped would show as new pids).
	time.Sleep(time.Second)
	if again := containerPids(t, e, "p"); !equalInts(pids, again) {
		t.Errorf("the paused container's processes changed: %v, then %v", pids, again)
	}

	r = e.lodger(t, "unpause", "p")
	wantStdout(t, r, "p\n")
	for _, p := range pids {
		if st := procState(p); st == 'T' {
			t.Errorf("process %d still stopped after unpause", p)
		}
	}
	before := size("/tmp/b")
	eventually(t, "the container to write again", func() bool { return size("/tmp/b") > before })
	if row, _ := e.ps(t, "p"); strings.Contains(row.Status, "Paused") {
		t.Errorf("ps STATUS after unpause is %q", row.Status)
	}
	r = e.lodger(t, "unpause", "p")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "not paused") {
		t.Errorf("%s\nwant unpause of a running container refused", r)
	}

	// stop of a paused container: the shell acts on TERM once resumed.
	wantCode(t, e.lodger(t, "pause", "p"), 0)
	// A timeout far longer than any machine takes to act on TERM: exit
	// 3 (the trap) and not 137 (the timeout's KILL) shows the TERM was
	// acted on, as a stop that took the timeout never was.
	r = e.lodger(t, "stop", "-t", "60", "p")
	wantStdout(t, r, "p\n")
	if row, _ := e.ps(t, "p"); row.State != "exited" {
		t.Errorf("after stop of a paused container ps says %+v, want exited", row)
	}
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.ExitCode}}", "p"), "3\n")
	for _, p := range pids {
		if st := procState(p); st != 0 && st != 'Z' {
			t.Errorf("process %d of the stopped container is still there (%q)", p, st)
		}
	}

	// kill and rm -f of a paused container.
	wantCode(t, e.lodger(t, "start", "p"), 0)
	wantCode(t, e.lodger(t, "pause", "p"), 0)
	wantStdout(t, e.lodger(t, "kill", "p"), "p\n")
	eventually(t, "the killed container to exit", func() bool { row, _ := e.ps(t, "p"); return row.State == "exited" })
	wantCode(t, e.lodger(t, "start", "p"), 0)
	wantCode(t, e.lodger(t, "pause", "p"), 0)
	pids = containerPids(t, e, "p")
	wantStdout(t, e.lodger(t, "rm", "-f", "p"), "p\n")
	if _, ok := e.ps(t, "p"); ok {
		t.Errorf("rm -f left the paused container")
	}
	for _, p := range pids {
		if st := procState(p); st != 0 && st != 'Z' {
			t.Errorf("process %d of the removed container is still there (%q)", p, st)
		}
	}
	r = e.lodger(t, "pause", "p")
	wantCode(t, r, 1)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// delegatedFreezer is the v1 freezer cgroup tests/setup-host.sh delegates
// to the test user, as a privileged setup chowns a hierarchy to a user.
const delegatedFreezer = "/sys/fs/cgroup/freezer/lodger-e2e"

// inCgroup runs lodger args in e from inside the cgroup dir: the shell
// moves itself there (a v1 hierarchy lets a user move its own processes
// into a cgroup it owns) and execs lodger.
func inCgroup(t *testing.T, e *env, dir string, args ...string) result {
	t.Helper()
	script := `echo $$ > "$1/cgroup.procs" && shift && exec "$@"`
	r, err := call{env: e, bin: "/bin/sh"}.do(append([]string{"-c", script, "sh", dir, lodgerBin}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.args = args
	return r
}

// TestPauseFreezer: where a cgroup freezer is delegated to the user,
// pause freezes the container's processes in a cgroup of their own under
// it (stopped, yet not by a signal: their state is not T), info says so,
// and an unpause or stop run from outside that cgroup thaws the same one
// and removes it (issue 13).
func TestPauseFreezer(t *testing.T) {
	if fi, err := os.Stat(delegatedFreezer + "/cgroup.procs"); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Fatalf("%s is not delegated to this user (%v): run tests/setup-host.sh as root", delegatedFreezer, err)
	}
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	r := inCgroup(t, e, delegatedFreezer, "info")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "pause:         cgroup freezer") {
		t.Errorf("%s\nwant info, run inside the delegated cgroup, to say pause freezes", r)
	}
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "fz", busybox, "sh", "-c",
		`trap "exit 3" TERM; while :; do echo b >> /tmp/b; sleep 0.05; done`), 0)
	id := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.Id}}", "fz").stdout)
	dir := delegatedFreezer + "/lodger-" + id
	size := func() int {
		t.Helper()
		r := e.lodger(t, "exec", "fz", "wc", "-c", "/tmp/b")
		wantCode(t, r, 0)
		n, _ := strconv.Atoi(strings.Fields(r.stdout)[0])
		return n
	}
	eventually(t, "fz to write", func() bool { return size() > 0 })

	wantStdout(t, inCgroup(t, e, delegatedFreezer, "pause", "fz"), "fz\n")
	if b, err := os.ReadFile(dir + "/freezer.state"); err != nil || strings.TrimSpace(string(b)) != "FROZEN" {
		t.Fatalf("%s/freezer.state: %q %v, want FROZEN", dir, b, err)
	}
	pids := containerPids(t, e, "fz")
	b, _ := os.ReadFile(dir + "/cgroup.procs")
	if got := strings.Fields(string(b)); len(got) != len(pids) || len(pids) < 2 {
		t.Errorf("the frozen cgroup holds %v, want the container's processes %v", got, pids)
	}
	for _, p := range pids {
		if st := procState(p); st == 'T' {
			t.Errorf("process %d is stopped by a signal (T), want it frozen by the cgroup", p)
		}
	}
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "fz"), "paused true\n")
	wantCode(t, e.lodger(t, "exec", "fz", "true"), 125)
	time.Sleep(300 * time.Millisecond)
	if again := containerPids(t, e, "fz"); !equalInts(pids, again) {
		t.Errorf("the frozen container's processes changed: %v, then %v", pids, again)
	}

	// Unpause from outside the delegated cgroup: the mark names it.
	wantStdout(t, e.lodger(t, "unpause", "fz"), "fz\n")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s is still there after unpause", dir)
	}
	before := size()
	eventually(t, "fz to write again", func() bool { return size() > before })

	// stop of a frozen container: thawed, it acts on TERM at once.
	wantStdout(t, inCgroup(t, e, delegatedFreezer, "pause", "fz"), "fz\n")
	// Exit 3, the trap's, not 137, the timeout's KILL (see above).
	wantStdout(t, e.lodger(t, "stop", "-t", "60", "fz"), "fz\n")
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "fz"), "exited 3\n")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s is still there after stop", dir)
	}
	wantCode(t, e.lodger(t, "rm", "fz"), 0)
}
