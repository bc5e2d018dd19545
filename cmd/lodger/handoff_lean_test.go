//go:build !lodger_transfer

package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestHandsOver: lodger hands over the commands that pull, push, save,
// load, log in, search, build, serve the API or read the build cache,
// also as image subcommands, after global flags, for their help and their
// completions; and nothing else, not their parents' help nor the
// completion of a command's name.
func TestHandsOver(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"pull", "busybox"}, true},
		{[]string{"--root", "/x", "push", "a", "b"}, true},
		{[]string{"--storage-driver=vfs", "image", "pull", "a"}, true},
		{[]string{"image", "save", "-o", "f", "a"}, true},
		{[]string{"load", "-i", "f"}, true},
		{[]string{"image", "load"}, true},
		{[]string{"image", "build", "."}, true},
		{[]string{"build", "-t", "x", "."}, true},
		{[]string{"builder", "prune", "-f"}, true},
		{[]string{"login", "-u", "me", "reg"}, true},
		{[]string{"logout", "reg"}, true},
		{[]string{"search", "x"}, true},
		{[]string{"system", "service", "--time", "0"}, true},
		{[]string{"system", "df"}, true},
		{[]string{"system", "prune", "-f"}, true},
		{[]string{"pull", "--help"}, true},
		{[]string{"help", "pull"}, true},
		{[]string{"help", "image", "push"}, true},
		{[]string{"__complete", "pull", ""}, true},
		{[]string{"__complete", "image", "save", "--f"}, true},
		{[]string{"__completeNoDesc", "build", "-"}, true},

		{[]string{"run", "--rm", "busybox", "true"}, false},
		{[]string{"create", "busybox"}, false},
		{[]string{"ps", "-a"}, false},
		{[]string{"version"}, false},
		{[]string{"images"}, false},
		{[]string{"image", "ls"}, false},
		{[]string{"import", "f.tar"}, false},
		{[]string{"commit", "c"}, false},
		{[]string{"tag", "a", "b"}, false},
		{[]string{"network", "ls"}, false},
		{[]string{"system", "reset", "-f"}, false},
		{[]string{"system"}, false},
		{[]string{"image"}, false},
		{[]string{"help"}, false},
		{[]string{"help", "run"}, false},
		{[]string{"--help"}, false},
		{nil, false},
		{[]string{"__complete", "pu"}, false},
		{[]string{"__complete", "image", ""}, false},
		{[]string{"__complete", "run", "--pu"}, false},
		{[]string{"completion", "bash"}, false},
		{[]string{"pul"}, false},
	} {
		if got := handsOver(newRootFor(tt.args), tt.args); got != tt.want {
			t.Errorf("handsOver(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestHandOffWithoutTransfer: with no lodger-transfer beside it (the test
// binary's directory has none), a command lodger hands over fails with
// exit 1 and an error that names the missing program and the fix, and
// nothing else is done.
func TestHandOffWithoutTransfer(t *testing.T) {
	for _, args := range [][]string{{"pull", "busybox"}, {"help", "build"}, {"system", "df"}} {
		var code int
		stderr := captureStderr(t, func() { code = execute(context.Background(), args) })
		if code != 1 {
			t.Errorf("%q: exit %d, want 1", args, code)
		}
		for _, want := range []string{"lodger: lodger-transfer not found in ", "make install puts it beside lodger"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%q: stderr %q does not say %q", args, stderr, want)
			}
		}
	}
}

// captureStderr returns what fn wrote to os.Stderr.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	fn()
	os.Stderr = saved
	w.Close()
	return <-done
}
