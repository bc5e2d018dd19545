//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// logPath is the container's log file, as inspect shows it.
func logPath(t *testing.T, e *env, name string) string {
	t.Helper()
	r := e.lodger(t, "inspect", "-f", "{{.LogPath}}", name)
	wantCode(t, r, 0)
	return strings.TrimSpace(r.stdout)
}

// A container run in the foreground is logged as a detached one is, in
// Docker's json-file format: logs shows what the terminal showed, by
// stream (issue 13).
func TestLogsForeground(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-q", noTLS, "--name", "fg", busybox, "sh", "-c", "echo out 1; echo err 1 >&2; sleep 1; echo out 2; printf 'no newline'; exit 3")
	wantCode(t, r, 3)
	if r.stdout != "out 1\nout 2\nno newline" || !strings.Contains(r.stderr, "err 1\n") {
		t.Errorf("%s\nwant the output on the terminal as before", r)
	}
	r = e.lodger(t, "logs", "fg")
	wantCode(t, r, 0)
	if r.stdout != "out 1\nout 2\nno newline" || r.stderr != "err 1\n" {
		t.Errorf("%s\nwant logs to show the foreground run's output by stream", r)
	}
	// The streams are copied apart; the second between them makes
	// stdout's the last line (a scheduling delay of the copies would
	// have to outlast it).
	wantStdout(t, e.lodger(t, "logs", "--tail", "1", "fg"), "no newline")
	r = e.lodger(t, "logs", "-t", "fg")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out 1\n`).MatchString(r.stdout) {
		t.Errorf("%s\nwant each line after Docker's fixed-width time", r)
	}
	b, err := os.ReadFile(logPath(t, e, "fg"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("log file:\n%s\nwant 4 lines", b)
	}
	for _, l := range lines {
		var j map[string]any
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if _, ok := j["time"].(string); !ok || (j["stream"] != "stdout" && j["stream"] != "stderr") {
			t.Errorf("log line %q lacks json-file's time or stream", l)
		}
	}
	if !strings.Contains(string(b), `{"log":"out 1\n","stream":"stdout","time":"`) {
		t.Errorf("log file:\n%s\nwant Docker's json-file line for 'out 1'", b)
	}
	// A foreground container started again logs on, as Docker's.
	wantCode(t, e.lodger(t, "start", "-a", "fg"), 3)
	if r := e.lodger(t, "logs", "fg"); strings.Count(r.stdout, "out 1\n") != 2 {
		t.Errorf("%s\nwant both runs in the log", r)
	}
	// A foreground --rm container still runs as before.
	wantStdout(t, e.runRm(t, busybox, "echo", "gone"), "gone\n")
	wantCode(t, e.lodger(t, "rm", "fg"), 0)
	wantNothingLeft(t, e)
}

func TestLogDrivers(t *testing.T) {
	e := isolatedEnv(t)
	// k8s-file: podman's "TIME STREAM F|P TEXT".
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "k8s", "--log-driver", "k8s-file", busybox, "sh", "-c", "echo hello; echo oops >&2"), 0)
	b, err := os.ReadFile(logPath(t, e, "k8s"))
	if err != nil {
		t.Fatal(err)
	}
	// The two streams are copied apart, so their order in the file is not
	// the order they were written in.
	if strings.Count(string(b), "\n") != 2 || !regexp.MustCompile(`(?m)^\d{4}-\S+ stdout F hello$`).Match(b) ||
		!regexp.MustCompile(`(?m)^\d{4}-\S+ stderr F oops$`).Match(b) {
		t.Errorf("k8s-file log:\n%s\nwant podman's k8s-file lines", b)
	}
	r := e.lodger(t, "logs", "k8s")
	if r.stdout != "hello\n" || r.stderr != "oops\n" {
		t.Errorf("%s\nwant the k8s-file log read back", r)
	}
	// none: the terminal sees the output, logs says it cannot read, as Docker.
	wantStdout(t, e.lodger(t, "run", "-q", noTLS, "--name", "quiet", "--log-driver", "none", busybox, "echo", "shown"), "shown\n")
	wantError(t, e.lodger(t, "logs", "quiet"), 1, "configured logging driver does not support reading")
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "quietd", "--log-driver", "none", busybox, "echo", "x"), 0)
	wantStdout(t, e.lodger(t, "wait", "quietd"), "0\n")
	wantError(t, e.lodger(t, "logs", "quietd"), 1, "configured logging driver does not support reading")
	if _, err := os.Stat(logPath(t, e, "quietd")); err == nil {
		t.Errorf("the none driver left a log file")
	}
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--log-driver", "syslog", busybox, "true"), 125, "syslog")
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--log-driver", "none", "--log-opt", "max-size=1k", busybox, "true"), 125, "none")
	wantCode(t, e.lodger(t, "rm", "k8s", "quiet", "quietd"), 0)
	wantNothingLeft(t, e)
}

// --log-opt labels= and env= put those values on each line, which logs
// --details prints first, as Docker's.
func TestLogDetails(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "det", "--label", "com.example=a b", "--label", "other=no",
		"-e", "FOO=bar", "--log-opt", "labels=com.example", "--log-opt", "env=FOO", busybox, "echo", "hi"), 0)
	wantStdout(t, e.lodger(t, "logs", "--details", "det"), "FOO=bar,com.example=a+b hi\n")
	wantStdout(t, e.lodger(t, "logs", "det"), "hi\n")
	b, _ := os.ReadFile(logPath(t, e, "det"))
	if !strings.Contains(string(b), `"attrs":{"FOO":"bar","com.example":"a b"}`) {
		t.Errorf("log file:\n%s\nwant json-file's attrs", b)
	}
	// Without attrs, Docker's --details still puts the separating space.
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "plain", busybox, "echo", "hi"), 0)
	wantStdout(t, e.lodger(t, "logs", "--details", "plain"), " hi\n")
	wantCode(t, e.lodger(t, "rm", "det", "plain"), 0)
}

// max-file keeps that many files of at most max-size; logs and --tail
// read across them.
func TestLogMaxFile(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "rot", "--log-opt", "max-size=4k", "--log-opt", "max-file=3", busybox,
		"sh", "-c", "i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo line $i; done"), 0)
	p := logPath(t, e, "rot")
	for _, f := range []string{p, p + ".1", p + ".2"} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() > 4096 {
			t.Errorf("%s: %v, want a file within the 4k cap", f, err)
		}
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Errorf("%s.3 exists: want 3 files at most", p)
	}
	r := e.lodger(t, "logs", "rot")
	if !strings.HasSuffix(r.stdout, "line 499\nline 500\n") || strings.Contains(r.stdout, "line 1\n") {
		t.Errorf("logs end %q, want the last lines kept and the first rotated out", r.stdout[max(0, len(r.stdout)-40):])
	}
	// A tail of more lines than the current file holds reaches into the rotated ones.
	cur, _ := os.ReadFile(p)
	n := strings.Count(string(cur), "\n") + 5
	r = e.lodger(t, "logs", "--tail", strconv.Itoa(n), "rot")
	if got := strings.Count(r.stdout, "\n"); got != n || !strings.HasSuffix(r.stdout, "line 500\n") {
		t.Errorf("logs --tail %d printed %d lines ending %q", n, got, r.stdout[max(0, len(r.stdout)-20):])
	}
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--log-opt", "max-file=2", busybox, "true"), 125, "max-size")
	wantCode(t, e.lodger(t, "rm", "rot"), 0)
}

// A log lodger wrote before issue 13, in k8s-file lines, reads on beside
// the json-file lines a new run adds.
func TestLogsOldFormat(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "old", busybox, "echo", "new line"), 0)
	p := logPath(t, e, "old")
	cur, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	old := "2025-01-02T03:04:05.123456789Z stdout F old line\n2025-01-02T03:04:06Z stderr F old error\n"
	if err := os.WriteFile(p, append([]byte(old), cur...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.lodger(t, "logs", "old")
	if r.stdout != "old line\nnew line\n" || r.stderr != "old error\n" {
		t.Errorf("%s\nwant the old lines and the new", r)
	}
	wantStdout(t, e.lodger(t, "logs", "--until", "2025-06-01T00:00:00Z", "old"), "old line\n")
	wantCode(t, e.lodger(t, "rm", "old"), 0)
}

// A foreground run whose stdout is closed (lodger run ... | head -1) ends
// as before lodger logged it: the container meets a broken pipe, lodger
// records its exit and is not killed by SIGPIPE, and the log keeps what
// was written.
func TestLogsForegroundClosedStdout(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before the container writes
	cmd := e.command(ctx, "run", "-q", noTLS, "--name", "yes", busybox, "yes")
	cmd.Stdout = w
	err = cmd.Run()
	w.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("lodger run was killed by %v, want it to record the container's end", ws.Signal())
		}
	} else if err != nil {
		t.Fatalf("lodger run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("lodger run did not end with its stdout closed")
	}
	row, _ := e.ps(t, "yes")
	if row.ExitCode == nil {
		t.Errorf("ps: %+v, want the container's exit code known", row)
	}
	if r := e.lodger(t, "logs", "yes"); !strings.HasPrefix(r.stdout, "y\ny\n") || !strings.Contains(r.stderr, "Broken pipe") {
		t.Errorf("%s\nwant the output read before the pipe broke, and the container's complaint, in the log", r)
	}
	wantCode(t, e.lodger(t, "rm", "yes"), 0)
}

// TestRunPidHostChildKeepsOutputOpen: with --pid host, a child the
// container's process leaves behind keeps the output pipes open after the
// process exits. The run still ends once no output has come for a while
// (the monitor's quiet time), with everything the process wrote, and does
// not wait for the child (150 s: past the call timeout, so a wait for it
// fails the test).
func TestRunPidHostChildKeepsOutputOpen(t *testing.T) {
	e := isolatedEnv(t)
	t.Cleanup(func() {
		// The child: a sleep of ours with that argument.
		for _, pid := range pids() {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && string(b) == "sleep\x00150\x00" {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	r := e.runRm(t, "--pid", "host", busybox, "sh", "-c", "sleep 150 & seq 1 20000")
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 20000 || lines[len(lines)-1] != "20000" {
		t.Errorf("got %d lines ending %q, want 1..20000", len(lines), lines[len(lines)-1])
	}
}
