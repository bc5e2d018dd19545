//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestImageErrors checks that a bad image reference fails with the right
// exit code and a message that names what failed.
func TestImageErrors(t *testing.T) {
	e := isolatedEnv(t)
	nope := ref("nope")
	unreachable := "127.0.0.1:1/x"
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		words []string
	}{
		{"run unknown image", []string{"run", "--rm", noTLS, nope}, 125, []string{nope, registry}},
		{"pull unknown image", []string{"pull", noTLS, nope}, 1, []string{nope, registry}},
		{"run unknown tag", []string{"run", "--rm", noTLS, ref("busybox:no-such-tag")}, 125, []string{"no-such-tag"}},
		{"run unreachable registry", []string{"run", "--rm", noTLS, unreachable}, 125, []string{"127.0.0.1:1"}},
		{"pull unreachable registry", []string{"pull", noTLS, unreachable}, 1, []string{"127.0.0.1:1"}},
		{"run malformed reference", []string{"run", "--rm", "UPPER/Case"}, 125, []string{"invalid", "UPPER/Case"}},
		{"pull malformed reference", []string{"pull", "UPPER/Case"}, 1, []string{"invalid", "UPPER/Case"}},
		{"pull missing archive", []string{"pull", "oci-archive:/no/such/archive.tar"}, 1, []string{"/no/such/archive.tar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.lodger(t, tc.args...)
			wantError(t, r, tc.code, tc.words...)
			if r.stdout != "" {
				t.Errorf("%s\nwant nothing on stdout", r)
			}
		})
	}
	if rows := e.images(t); len(rows) != 0 {
		t.Errorf("images after failed pulls: %+v, want none", rows)
	}
	wantNothingLeft(t, e)
}

// TestUsageErrors checks lodger's own command-line errors: 125 for run, as
// in Docker, 1 for the other commands.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		word string
	}{
		{"run without image", []string{"run"}, 125, "run"},
		{"run unknown flag", []string{"run", "--no-such-flag", busybox}, 125, "no-such-flag"},
		{"run bad env file", []string{"run", "--rm", "-q", noTLS, "--env-file", "/no/such/env-file", busybox, "true"}, 125, "/no/such/env-file"},
		{"pull without image", []string{"pull"}, 1, "pull"},
		{"images bad format", []string{"images", "--format", "{{.Yaml"}, 1, "template parsing error"},
		{"unknown command", []string{"no-such-command"}, 1, "no-such-command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, lodger(t, tc.args...), tc.code, tc.word)
		})
	}
	t.Run("flags after the image belong to the container", func(t *testing.T) {
		wantStdout(t, runRm(t, busybox, "echo", "--rm", "-e", "x"), "--rm -e x\n")
	})
}

// TestCLI checks the commands that need no container.
func TestCLI(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		words []string
	}{
		{"version", []string{"version"}, []string{"Client: lodger\n Version: ", "Server: lodger\n Engine:\n  Version: ", "API version: "}},
		{"--help", []string{"--help"}, []string{"Usage:", "run", "pull", "images"}},
		{"help", []string{"help"}, []string{"Usage:", "run"}},
		{"run --help", []string{"run", "--help"}, []string{"--rm", "--entrypoint", "--network"}},
		{"completion bash", []string{"completion", "bash"}, []string{"bash completion", "lodger"}},
		{"info", []string{"info"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lodger(t, tc.args...)
			wantOK(t, r)
			if r.stdout == "" {
				t.Errorf("%s\nwant output on stdout", r)
			}
			for _, w := range tc.words {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%s\nwant stdout to contain %q", r, w)
				}
			}
		})
	}
	t.Run("info json", func(t *testing.T) {
		i := shared.info(t)
		if !i.Host.Rootless {
			t.Errorf("info: rootless=false, want true for an unprivileged user")
		}
		if !strings.HasPrefix(i.Storage.GraphRoot, shared.data+"/") {
			t.Errorf("info: graph root %s, want it under XDG_DATA_HOME=%s", i.Storage.GraphRoot, shared.data)
		}
	})
}
