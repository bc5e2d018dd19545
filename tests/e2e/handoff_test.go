//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The hand-off (issue 14): lodger does not link the registry client, so a
// run of an image it must pull is carried out by lodger-transfer, which
// lodger execs in its own place.

// TestHandOffRunPullKeepsProcess: a run of a missing image still pulls
// and runs it, in the process the user started (exec: same pid, now
// lodger-transfer), which then passes the user's signal to the container
// and exits with the container's code.
func TestHandOffRunPullKeepsProcess(t *testing.T) {
	e := isolatedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "run", "--rm", "-q", noTLS, busybox, "sh", "-c", `trap "exit 7" TERM; echo started; sleep 100 & wait`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		started <- line
	}()
	select {
	case line := <-started:
		if line != "started\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the container printed %q, want started\n%s", line, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the container never started:\n%s", stderr.String())
	}
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "lodger-transfer" {
		t.Errorf("the run's process (pid %d) is %q (%v), want lodger-transfer: the pull was not handed over by exec", cmd.Process.Pid, comm, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("lodger run ended with %v, want exit 7 (the container's trap of the SIGTERM passed on)\n%s", err, stderr.String())
	}
	wantNothingLeft(t, e)
	if rows := e.images(t); len(rows) != 1 {
		t.Errorf("images %+v, want the one pulled", rows)
	}
}

// TestHandOffWithoutTransfer: a lodger installed without lodger-transfer
// still runs what is in local storage, and for what it would hand over
// says what is missing and how to install it: exit 125 in run and create
// (lodger's own error), 1 elsewhere, before anything is made (create's
// --cidfile file included).
func TestHandOffWithoutTransfer(t *testing.T) {
	e := isolatedEnv(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "lodger")
	copyExecutable(t, lodgerBin, bin)
	e.pull(t, busybox, noTLS)
	wantStdout(t, e.runBin(t, bin, "run", "--rm", busybox, "echo", "ok"), "ok\n")
	missing := ref("busybox:zstd")
	cidfile := filepath.Join(e.dir, "cid")
	for _, args := range [][]string{
		{"run", "--rm", noTLS, missing, "true"},
		{"run", "--pull", "always", "--rm", noTLS, busybox, "true"},
		{"create", "--cidfile", cidfile, "--name", "c1", noTLS, missing, "true"},
	} {
		wantError(t, e.runBin(t, bin, args...), 125, "lodger-transfer not found", dir, "make install")
	}
	for _, args := range [][]string{
		{"pull", noTLS, missing},
		{"build", "--help"},
		{"system", "df"},
	} {
		wantError(t, e.runBin(t, bin, args...), 1, "lodger-transfer not found", dir, "make install")
	}
	if _, err := os.Stat(cidfile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--cidfile %s: %v, want no file: create made it before it failed", cidfile, err)
	}
	wantNothingLeft(t, e)
	if rows := e.images(t); len(rows) != 1 {
		t.Errorf("images %+v, want busybox alone", rows)
	}
	// The same with lodger-transfer beside it: handed over, and done.
	copyExecutable(t, filepath.Join(filepath.Dir(lodgerBin), "lodger-transfer"), filepath.Join(dir, "lodger-transfer"))
	wantStdout(t, e.runBin(t, bin, "run", "--rm", "-q", noTLS, missing, "echo", "pulled"), "pulled\n")
	wantError(t, e.runBin(t, bin, "pull", "-q", noTLS, ref("no-such-image:v1")), 1, "no-such-image")
	wantError(t, e.runBin(t, bin, "run", "--rm", "-q", noTLS, ref("no-such-image:v1"), "true"), 125, "no-such-image")
}
