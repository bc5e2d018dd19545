//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRestartPolicy(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", noTLS, "--name", "flaky", "--restart", "on-failure:2", busybox, "sh", "-c", "echo try; exit 3")
	wantCode(t, r, 0)
	eventually(t, "two restarts", func() bool {
		r := e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky")
		return strings.TrimSpace(r.stdout) == "exited 2"
	})
	wantStdout(t, e.lodger(t, "wait", "flaky"), "3\n")
	if r := e.lodger(t, "logs", "flaky"); r.stdout != "try\ntry\ntry\n" {
		t.Errorf("%s\nwant the first run and two restarts", r)
	}

	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "always", "--restart", "always", busybox, "sh", "-c", "sleep 0.2"), 0)
	eventually(t, "a restart", func() bool {
		r := e.lodger(t, "inspect", "-f", "{{.RestartCount}}", "always")
		n, _ := strconv.Atoi(strings.TrimSpace(r.stdout))
		return n >= 1
	})
	wantCode(t, e.lodger(t, "stop", "-t", "2", "always"), 0)
	time.Sleep(time.Second)
	if r := e.lodger(t, "inspect", "-f", "{{.State.Status}}", "always"); strings.TrimSpace(r.stdout) != "exited" {
		t.Errorf("%s\nwant a stopped container to stay stopped despite --restart always", r)
	}
	wantError(t, e.lodger(t, "run", "-d", noTLS, "--restart", "sometimes", busybox, "true"), 125, "sometimes")
	wantError(t, e.lodger(t, "run", "-d", noTLS, "--rm", "--restart", "always", busybox, "true"), 125, "--rm")
	wantCode(t, e.lodger(t, "rm", "-f", "flaky", "always"), 0)
	wantNothingLeft(t, e)
}

func TestLogMaxSize(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-d", "-q", noTLS, "--name", "chatty", "--log-opt", "max-size=4k", busybox,
		"sh", "-c", "i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo line $i; done")
	wantCode(t, r, 0)
	wantStdout(t, e.lodger(t, "wait", "chatty"), "0\n")
	r = e.lodger(t, "inspect", "-f", "{{.LogPath}}", "chatty")
	logPath := strings.TrimSpace(r.stdout)
	for _, p := range []string{logPath, logPath + ".1"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 4096 {
			t.Errorf("%s: %v, size over the 4k cap", p, err)
		}
	}
	r = e.lodger(t, "logs", "chatty")
	if !strings.HasSuffix(r.stdout, "line 500\n") {
		t.Errorf("logs end %q, want the last line kept", r.stdout[max(0, len(r.stdout)-40):])
	}
	wantError(t, e.lodger(t, "run", "-d", noTLS, "--log-opt", "max-size=lots", busybox, "true"), 125, "max-size")
	wantError(t, e.lodger(t, "run", "-d", noTLS, "--log-opt", "colour=blue", busybox, "true"), 125, "colour")
}

// The CLI of a foreground run killed with SIGKILL: later commands report
// the container exited with an unknown code, never running, and rm -f
// cleans everything.
func TestForegroundCLIKilled(t *testing.T) {
	e := isolatedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "run", "-q", noTLS, "--name", "fg", busybox, "sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the container to run", func() bool {
		row, ok := e.ps(t, "fg")
		return ok && row.State == "running"
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	eventually(t, "ps to see the container exited", func() bool {
		row, _ := e.ps(t, "fg")
		return row.State == "exited" && row.ExitCode == nil
	})
	wantCode(t, e.lodger(t, "rm", "-f", "fg"), 0)
	wantNothingLeft(t, e)
}

// A reboot loses every process and the runtime directory; containers are
// then exited, and start brings them back from what the graph root keeps.
func TestRebootSimulated(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "survivor", "--hostname", "keepme", busybox, "sleep", "100"), 0)
	// What a reboot does: every process of the session gone, the runtime
	// directory (on tmpfs normally) empty.
	killByEnv("XDG_RUNTIME_DIR=" + e.runtime)
	time.Sleep(200 * time.Millisecond)
	if err := os.RemoveAll(filepath.Join(e.runtime, "lodger")); err != nil {
		t.Fatal(err)
	}
	row, ok := e.ps(t, "survivor")
	if !ok || row.State == "running" {
		t.Fatalf("ps after the reboot: %+v, want the container, not running", row)
	}
	wantCode(t, e.lodger(t, "start", "survivor"), 0)
	r := e.lodger(t, "exec", "survivor", "hostname")
	wantStdout(t, r, "keepme\n")
	wantCode(t, e.lodger(t, "rm", "-f", "survivor"), 0)
	wantNothingLeft(t, e)
}

// Twenty runs with one name at once: exactly one wins, the others exit 125
// saying the name is in use, and nothing is left of them.
func TestNameRace(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	const n = 20
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = call{env: e}.do("run", "-d", "-q", "--name", "same", busybox, "sleep", "100")
		}()
	}
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch r := results[i]; {
		case r.code == 0:
			won++
		case r.code == 125 && strings.Contains(r.stderr, "in use"):
		default:
			t.Errorf("%s\nwant 0 once, else 125 and \"in use\"", r)
		}
	}
	if won != 1 {
		t.Errorf("%d runs won the name, want exactly 1", won)
	}
	if r := e.lodger(t, "ps", "-a", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("%s\nwant exactly one container", r)
	}
	wantCode(t, e.lodger(t, "rm", "-f", "same"), 0)
	wantNothingLeft(t, e)
}

// A session keeper killed with SIGKILL leaves its pid file and lock
// behind; the next command ignores them and starts a new session.
func TestStaleSession(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.runRm(t, busybox, "true"), 0)
	old := e.keeperPID()
	killByEnv("XDG_RUNTIME_DIR=" + e.runtime)
	eventually(t, "the keeper to die", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(old) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	if _, err := os.Stat(filepath.Join(e.runtime, "lodger", "session", "child_pid")); err != nil {
		t.Fatalf("want the stale pid file left behind for this test: %v", err)
	}
	wantCode(t, e.runRm(t, busybox, "true"), 0)
	if now := e.keeperPID(); now == old || now <= 0 {
		t.Errorf("keeper pid %d after the old one (%d) died, want a new one", now, old)
	}
}

// Parallel run, rm and ps of different containers never corrupt state.
func TestParallelLifecycle(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	const workers = 4
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				name := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				steps := [][]string{
					{"run", "-d", "-q", "--name", name, busybox, "sleep", "30"},
					{"ps", "-a", "--format", "json"},
					{"rm", "-f", name},
				}
				for _, args := range steps {
					r, err := call{env: e}.do(args...)
					if err == nil && r.code != 0 {
						err = fmt.Errorf("%s", r)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantNothingLeft(t, e)
}
