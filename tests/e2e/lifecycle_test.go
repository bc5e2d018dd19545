//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayers checks that whiteouts and opaque directories hide lower
// layers' content.
func TestLayers(t *testing.T) {
	image := ref("layers:latest")
	for _, tc := range []struct {
		name, script, want string
	}{
		{"kept file", "cat /data/keep", "keep\n"},
		{"whiteout", "ls -A /data; test -e /data/gone || echo gone", "keep\ngone\n"},
		{"opaque dir", "ls -A /opq; test -e /opq/sub || echo no-sub", "new\nno-sub\n"},
		{"no whiteout files show", "find / -xdev -name '.wh.*' | head -n 5", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStdout(t, runRm(t, image, "sh", "-c", tc.script), tc.want)
		})
	}
}

// layerMounts lists the overlay (or fuse-overlayfs) mounts below graphRoot
// in the session's mount namespace, where lodger mounts container rootfses.
func layerMounts(t *testing.T, e *env, graphRoot string) []string {
	t.Helper()
	pid := e.keeperPID()
	if pid == 0 {
		t.Fatalf("no session keeper pid in %s", e.runtime)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		mp, fstype := fields[4], postFields[0]
		if (fstype == "overlay" || strings.HasPrefix(fstype, "fuse")) && strings.HasPrefix(mp, graphRoot+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantNothingLeft fails t if e holds any container, in storage or mounted.
func wantNothingLeft(t *testing.T, e *env) {
	t.Helper()
	if r := e.lodger(t, "ps", "-a", "-q"); r.code != 0 || r.stdout != "" {
		t.Errorf("%s\nwant no container listed", r)
	}
	i := e.info(t)
	if i.Storage.Containers != 0 {
		t.Errorf("info: storage holds %d containers, want 0", i.Storage.Containers)
	}
	if !strings.HasPrefix(i.Storage.GraphRoot, e.data) {
		t.Errorf("info: graph root %s is outside XDG_DATA_HOME=%s", i.Storage.GraphRoot, e.data)
	}
	if m := layerMounts(t, e, i.Storage.GraphRoot); len(m) > 0 {
		t.Errorf("container rootfs mounts left in the session: %v", m)
	}
	// The container's own storage directories go with it.
	for _, d := range []string{"overlay-containers", "vfs-containers"} {
		ents, _ := os.ReadDir(filepath.Join(i.Storage.GraphRoot, d))
		for _, ent := range ents {
			if ent.IsDir() {
				t.Errorf("left in %s: %s", d, ent.Name())
			}
		}
	}
}

// TestRunRmLeavesNothing runs containers with --rm that end every which
// way, then looks for anything left behind.
func TestRunRmLeavesNothing(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantNothingLeft(t, e)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"success", []string{busybox, "true"}, 0},
		{"failure", []string{busybox, "sh", "-c", "exit 7"}, 7},
		{"wrote files", []string{busybox, "sh", "-c", "echo x >/root/f && mkdir -p /a/b/c"}, 0},
		{"not found", []string{busybox, "no-such-command"}, 127},
		{"not executable", []string{busybox, "/etc/passwd"}, 126},
		{"bad user", []string{"-u", "nosuchuser", busybox, "true"}, 125},
		{"bad workdir", []string{"-w", "/etc/passwd/sub", busybox, "true"}, 125},
		{"bad env file", []string{"--env-file", "/no/such/env-file", busybox, "true"}, 125},
		{"named", []string{"--name", "rm-me", busybox, "true"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runRm(t, tc.args...)
			wantCode(t, r, tc.code)
			wantNothingLeft(t, e)
		})
	}
	t.Run("name reusable", func(t *testing.T) {
		// The --rm container above released its name.
		wantCode(t, e.runRm(t, "--name", "rm-me", busybox, "true"), 0)
	})
	t.Run("killed", func(t *testing.T) {
		r := e.runRm(t, busybox, "sh", "-c", "kill -9 $$")
		wantCode(t, r, 137)
		wantNothingLeft(t, e)
	})
}

// TestContainerKept checks the life of a container run without --rm.
func TestContainerKept(t *testing.T) {
	e := isolatedEnv(t)
	name := "kept"
	r := e.lodger(t, "run", "-q", noTLS, "--name", name, busybox, "sh", "-c", "echo hello")
	wantStdout(t, r, "hello\n")

	rows := e.containers(t)
	if len(rows) != 1 || rows[0].Name != name || len(rows[0].ID) != 64 || rows[0].Image != busybox {
		t.Fatalf("ps -a --format json: got %+v, want one container named %s from %s", rows, name, busybox)
	}
	id := rows[0].ID
	t.Run("ps -a", func(t *testing.T) {
		r := e.lodger(t, "ps", "-a")
		wantOK(t, r)
		ls := lines(r.stdout)
		if len(ls) != 2 || !strings.HasPrefix(ls[0], "CONTAINER ID") || !strings.HasPrefix(ls[1], id[:12]) || !strings.HasSuffix(ls[1], name) {
			t.Errorf("%s\nwant a header and a row starting %s and ending %s", r, id[:12], name)
		}
	})
	t.Run("ps -a -q", func(t *testing.T) {
		wantStdout(t, e.lodger(t, "ps", "-a", "-q"), id[:12]+"\n")
	})
	t.Run("ps without -a", func(t *testing.T) {
		// The container has exited: plain ps shows only the header.
		r := e.lodger(t, "ps")
		wantOK(t, r)
		if len(lines(r.stdout)) != 1 {
			t.Errorf("%s\nwant only the header: the container is not running", r)
		}
	})
	t.Run("info counts it", func(t *testing.T) {
		if n := e.info(t).Storage.Containers; n != 1 {
			t.Errorf("info: %d containers, want 1", n)
		}
	})
	t.Run("rm NAME", func(t *testing.T) {
		r := e.lodger(t, "rm", name)
		wantOK(t, r)
		wantNothingLeft(t, e)
		wantError(t, e.lodger(t, "rm", name), 1, name)
	})
	t.Run("rm ID prefix", func(t *testing.T) {
		wantCode(t, e.lodger(t, "run", "-q", noTLS, busybox, "true"), 0)
		rows := e.containers(t)
		if len(rows) != 1 {
			t.Fatalf("ps -a: got %+v, want one container", rows)
		}
		wantCode(t, e.lodger(t, "rm", rows[0].ID[:12]), 0)
		wantNothingLeft(t, e)
	})
}

func TestNameInUse(t *testing.T) {
	name := "e2e-dup"
	wantCode(t, lodger(t, "run", "-q", noTLS, "--name", name, busybox, "true"), 0)
	t.Cleanup(func() { lodger(t, "rm", name) })
	wantError(t, lodger(t, "run", "-q", noTLS, "--name", name, busybox, "true"), 125, name, "in use")
	wantError(t, lodger(t, "run", "--rm", "-q", noTLS, "--name", name, busybox, "true"), 125, name, "in use")
	n := 0
	for _, c := range shared.containers(t) {
		if c.Name == name {
			n++
		}
	}
	if n != 1 {
		t.Errorf("ps -a lists %d containers named %s, want 1", n, name)
	}
}

func TestRmi(t *testing.T) {
	e := isolatedEnv(t)
	t.Run("unused", func(t *testing.T) {
		id := e.pull(t, busybox, noTLS)
		r := e.lodger(t, "rmi", busybox)
		wantCode(t, r, 0)
		if !strings.Contains(r.stdout, id) {
			t.Errorf("%s\nwant the removed id %s on stdout", r, id)
		}
		if rows := e.images(t); len(rows) != 0 {
			t.Errorf("images after rmi: %+v, want none", rows)
		}
	})
	t.Run("by id", func(t *testing.T) {
		id := e.pull(t, busybox, noTLS)
		wantCode(t, e.lodger(t, "rmi", id[:12]), 0)
		if rows := e.images(t); len(rows) != 0 {
			t.Errorf("images after rmi: %+v, want none", rows)
		}
	})
	t.Run("in use", func(t *testing.T) {
		id := e.pull(t, busybox, noTLS)
		wantCode(t, e.lodger(t, "run", "-q", "--name", "user", busybox, "true"), 0)
		wantError(t, e.lodger(t, "rmi", busybox), 1, "user")
		if rows := e.images(t); len(rows) != 1 || rows[0].ID != id {
			t.Errorf("images after a refused rmi: %+v, want %s still there", rows, id)
		}
		wantCode(t, e.lodger(t, "rmi", "-f", busybox), 0)
		if rows := e.images(t); len(rows) != 0 {
			t.Errorf("images after rmi -f: %+v, want none", rows)
		}
		wantNothingLeft(t, e)
	})
	t.Run("unknown", func(t *testing.T) {
		wantError(t, e.lodger(t, "rmi", "no-such-image"), 1, "no-such-image")
	})
}
