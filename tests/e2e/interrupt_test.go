//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Interrupted commands (issue 12): Ctrl-C in the middle of a pull, or of
// the pull inside run, stops lodger within a couple of seconds with 130,
// leaving no image, layer or temporary file; before, pull died by the
// signal halfway through, and run queued it for a container that did not
// exist yet, pulling on.

// interruptAt starts lodger args in e, waits until ready is closed, sends
// SIGINT and returns how lodger ended and how long it took after the
// signal.
func interruptAt(t *testing.T, e *env, ready <-chan struct{}, args ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("lodger %s never got under way:\n%s", shellQuote(args), stderr.String())
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(sent)
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("%s\nlodger died by %v: it caught no signal and cleaned nothing up", r, ws.Signal())
		}
	case err != nil:
		t.Fatal(err)
	}
	return r, took
}

// wantInterrupted checks that r is lodger stopped by SIGINT promptly.
func wantInterrupted(t *testing.T, r result, took time.Duration) {
	t.Helper()
	wantError(t, r, 130, "interrupted by SIGINT")
	// The throttle holds the pull: one that went on would never end
	// (the call's timeout kills it). A generous bound, so that a loaded
	// machine's slowness is not taken for a late stop.
	if took > 15*time.Second {
		t.Errorf("lodger took %s to stop after SIGINT, want at most 15s", took.Round(time.Millisecond))
	}
	t.Logf("stopped %s after SIGINT", took.Round(time.Millisecond))
}

// wantNoTempFiles fails if e's TMPDIR holds anything.
func wantNoTempFiles(t *testing.T, e *env) {
	t.Helper()
	ents, err := os.ReadDir(e.tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		t.Errorf("left in TMPDIR: %s", ent.Name())
	}
}

func TestInterruptPull(t *testing.T) {
	e := isolatedEnv(t)
	th := newThrottle(t)
	th.slow.Store(true)
	image := th.host + "/lodger-test/busybox:latest"
	r, took := interruptAt(t, e, th.sent, "pull", "-q", noTLS, image)
	wantInterrupted(t, r, took)
	wantStored(t, e, 0)
	wantNoTempFiles(t, e)
	th.slow.Store(false)
	id := e.pull(t, image, noTLS)
	wantStored(t, e, 1, id)
}

func TestInterruptRunPull(t *testing.T) {
	e := isolatedEnv(t)
	th := newThrottle(t)
	th.slow.Store(true)
	image := th.host + "/lodger-test/busybox:latest"
	marker := "container-ran"
	r, took := interruptAt(t, e, th.sent, "run", "--rm", "-q", noTLS, image, "echo", marker)
	wantInterrupted(t, r, took)
	if strings.Contains(r.stdout, marker) {
		t.Errorf("%s\nthe container ran after the interrupt", r)
	}
	wantStored(t, e, 0)
	wantNoTempFiles(t, e)
	if cs := e.containers(t); len(cs) != 0 {
		t.Errorf("containers %+v left, want none", cs)
	}
}

// TestInterruptSave interrupts the save of an image of one 256 MiB layer
// to a file once its temporary file has begun to grow: no archive, whole
// or partial, may be left.
func TestInterruptSave(t *testing.T) {
	e := isolatedEnv(t)
	const size = 256 << 20
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.CopyN(tw, zeroReader{}, size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	wantCode(t, call{env: e, stdin: pr}.run(t, "import", "-", "localhost/big:v1"), 0)

	dir := filepath.Join(e.dir, "out")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	growing := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			ents, _ := os.ReadDir(dir)
			for _, ent := range ents {
				if fi, err := ent.Info(); err == nil && fi.Size() > 1<<20 {
					close(growing)
					return
				}
			}
		}
	}()
	out := filepath.Join(dir, "big.tar")
	r, took := interruptAt(t, e, growing, "save", "-q", "-o", out, "localhost/big:v1")
	wantInterrupted(t, r, took)
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		t.Errorf("left in the output directory: %s", ent.Name())
	}
	wantNoTempFiles(t, e)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
