//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	leftIn := func(dirs ...string) []string {
		var left []string
		for _, d := range dirs {
			ents, _ := os.ReadDir(filepath.Join(i.Storage.GraphRoot, d))
			for _, ent := range ents {
				if ent.IsDir() {
					left = append(left, d+"/"+ent.Name())
				}
			}
		}
		return left
	}
	for _, l := range leftIn("overlay-containers", "vfs-containers") {
		t.Errorf("left: %s", l)
	}
	// So do the staging directories storage moves a deleted layer into
	// before it removes it. What a container wrote, when large, is
	// removed from there after lodger returned (issue 14): that removal
	// ends by itself, within moments.
	staging := []string{"overlay/tempdirs", "overlay-layers/tmp", "vfs/tempdirs", "vfs-layers/tmp"}
	deadline := time.Now().Add(30 * time.Second)
	for len(leftIn(staging...)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, l := range leftIn(staging...) {
		t.Errorf("left: %s", l)
	}
}

// layerLinks lists overlay's short links (overlay/l), one per layer: a
// container's layer leaves one behind if its removal stopped half-way.
func layerLinks(t *testing.T, graphRoot string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(graphRoot, "overlay", "l"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, ent := range ents {
		out = append(out, ent.Name())
	}
	return out
}

// layerDirs lists the layer directories of the storage driver in use.
func layerDirs(t *testing.T, graphRoot string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"overlay", "vfs/dir", "fuse-overlayfs"} {
		ents, err := os.ReadDir(filepath.Join(graphRoot, d))
		if err != nil {
			continue
		}
		for _, ent := range ents {
			if ent.IsDir() && ent.Name() != "l" {
				out = append(out, d+"/"+ent.Name())
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no layer directories below %s", graphRoot)
	}
	return out
}

// TestRunRmLeavesNothing runs containers with --rm that end every which
// way, then looks for anything left behind.
func TestRunRmLeavesNothing(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantNothingLeft(t, e)
	graphRoot := e.info(t).Storage.GraphRoot
	layers := layerDirs(t, graphRoot)
	t.Run("the checks see a running container", func(t *testing.T) {
		// Guard against a vacuous wantNothingLeft: while a container
		// runs, its rootfs mount and record must be visible to it.
		cmd, _, stderr := startRun(t, e, "sleep", "sleep", "30")
		if m := layerMounts(t, e, graphRoot); len(m) == 0 {
			t.Errorf("no rootfs mount below %s in the session while a container runs", graphRoot)
		}
		if n := e.info(t).Storage.Containers; n != 1 {
			t.Errorf("info: %d containers while one runs, want 1", n)
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		if pid, ok := findDescendant(cmd.Process.Pid, "sleep"); ok {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		waitExit(t, cmd, stderr)
		wantNothingLeft(t, e)
	})
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
			if got := layerDirs(t, graphRoot); !slices.Equal(got, layers) {
				t.Errorf("layer directories after the run: %v, want those of the image alone: %v", got, layers)
			}
		})
	}
	t.Run("name reusable", func(t *testing.T) {
		// The --rm container above released its name.
		wantCode(t, e.runRm(t, "--name", "rm-me", busybox, "true"), 0)
	})
	t.Run("name reusable at once, again and again", func(t *testing.T) {
		// Each run --rm has removed its container when it returns: the
		// next one with the same name starts straight after, and each
		// exits with its own container's code (issue 14).
		links := layerLinks(t, graphRoot)
		for n := range 20 {
			r := e.runRm(t, "--name", "rm-again", busybox, "sh", "-c", fmt.Sprintf("exit %d", n%4))
			if r.code != n%4 {
				t.Fatalf("run %d: %s\nwant exit %d, the container's", n+1, r, n%4)
			}
		}
		wantNothingLeft(t, e)
		if got := layerDirs(t, graphRoot); !slices.Equal(got, layers) {
			t.Errorf("layer directories after 20 runs: %v, want those of the image alone: %v", got, layers)
		}
		if got := layerLinks(t, graphRoot); !slices.Equal(got, links) {
			t.Errorf("overlay/l after 20 runs: %v, want the image's links alone: %v", got, links)
		}
	})
	t.Run("killed", func(t *testing.T) {
		killContainer(t, e)
		wantNothingLeft(t, e)
	})
	driver := e.info(t).Storage.Driver
	if driver == "fuse-overlayfs" {
		driver = "overlay"
	}
	staging := filepath.Join(graphRoot, driver, "tempdirs")
	t.Run("wrote many files", func(t *testing.T) {
		// More than lodger removes before it returns (issue 14): they go
		// to storage's staging area and a remover of their own. What
		// lodger and storage show is clean at once, the staging area
		// once the remover is done. Under a subreaper: what lodger left
		// running ends by itself (the remover, the TAP's lodger-linger).
		rep := e.underSubreaper(t, "run", "--rm", "-q", noTLS, "--name", "many", busybox, "sh", "-c",
			`mkdir /many && cd /many && i=0; while [ $i -lt 600 ]; do echo $i >f$i; i=$((i+1)); done; exit 5`)
		if rep.Code != 5 {
			t.Errorf("%+v\nwant exit 5, the container's", rep)
		}
		if len(rep.Left) > 0 {
			t.Errorf("%q still running 5 s after lodger ended", rep.Left)
		}
		for _, n := range rep.Reaped {
			if n != "rm" && n != "lodger-linger" {
				t.Errorf("lodger left %q behind (reaped: %q), want only the remover and lodger-linger", n, rep.Reaped)
			}
		}
		if r := e.lodger(t, "ps", "-a", "-q"); r.code != 0 || r.stdout != "" {
			t.Errorf("%s\nwant no container listed", r)
		}
		if got := layerDirs(t, graphRoot); !slices.Equal(got, layers) {
			t.Errorf("layer directories after the run: %v, want those of the image alone: %v", got, layers)
		}
		if m := layerMounts(t, e, graphRoot); len(m) > 0 {
			t.Errorf("container rootfs mounts left in the session: %v", m)
		}
		wantCode(t, e.runRm(t, "--name", "many", busybox, "true"), 0)
		eventually(t, "the staging area to empty", func() bool {
			ents, _ := os.ReadDir(staging)
			return len(ents) == 0
		})
		wantNothingLeft(t, e)
	})
	t.Run("a remover that died is finished at the next start", func(t *testing.T) {
		// A staging directory whose lock nobody holds, as a remover
		// killed half-way leaves it: the next command removes it.
		left := filepath.Join(staging, "temp-dir-e2e", "0-diff", "a", "b")
		if err := os.MkdirAll(left, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(left, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staging, "lock-e2e"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.runRm(t, busybox, "true"), 0)
		wantNothingLeft(t, e)
	})
}

// TestConcurrentRuns starts several containers at once in a fresh
// environment: they race to start the session keeper, to pull the image
// and to create containers, and all must win.
func TestConcurrentRuns(t *testing.T) {
	e := isolatedEnv(t)
	const n = 8
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = call{env: e}.do("run", "--rm", "-q", noTLS, busybox, "echo", strconv.Itoa(i))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Error(errs[i])
			continue
		}
		if r := results[i]; r.code != 0 || r.stdout != strconv.Itoa(i)+"\n" {
			t.Errorf("%s\nwant exit 0 and %d on stdout", r, i)
		}
	}
	if rows := e.images(t); len(rows) != 1 {
		t.Errorf("images: %+v, want the one image", rows)
	}
	wantNothingLeft(t, e)
	if n := len(sessionKeepers(e)); n != 1 {
		t.Errorf("%d session keepers run for %s, want 1", n, e.runtime)
	}
}

// sessionKeepers lists the keeper processes (argv[1] _lodger-session,
// started as lodger-session rather than re-executed) of e.
func sessionKeepers(e *env) []int {
	keeper := filepath.Join(filepath.Dir(lodgerBin), "lodger-session")
	var out []int
	want := []byte("XDG_RUNTIME_DIR=" + e.runtime)
	for _, pid := range pids() {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		if len(args) < 2 || string(args[1]) != "_lodger-session" || string(args[0]) != keeper {
			continue
		}
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if slices.ContainsFunc(bytes.Split(environ, []byte{0}), func(kv []byte) bool { return bytes.Equal(kv, want) }) {
			out = append(out, pid)
		}
	}
	return out
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

// TestNameInvalid checks that container names follow Docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, so that a name never looks like a path or
// an option.
func TestNameInvalid(t *testing.T) {
	for _, name := range []string{"a/b", "bad name", "-dash", ".dot", "x!"} {
		t.Run(name, func(t *testing.T) {
			wantError(t, runRm(t, "--name", name, busybox, "true"), 125, "invalid")
		})
	}
	wantOK(t, runRm(t, "--name", "Good_name.1-x", busybox, "true"))
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
	t.Run("one of two names", func(t *testing.T) {
		// busybox:zstd has the same config, so the same image id: rmi of
		// one name only untags, as in Docker.
		id := e.pull(t, busybox, noTLS)
		if got := e.pull(t, ref("busybox:zstd"), noTLS); got != id {
			t.Fatalf("busybox:zstd has id %s, want the same as busybox:latest %s", got, id)
		}
		wantCode(t, e.lodger(t, "rmi", ref("busybox:zstd")), 0)
		rows := e.images(t)
		if len(rows) != 1 || rows[0].ID != id || !slices.Equal(rows[0].Names, []string{busybox}) {
			t.Errorf("images after removing one name: %+v, want %s named %s alone", rows, id, busybox)
		}
		wantOK(t, e.lodger(t, "run", "--rm", "-q", busybox, "true"))
		wantCode(t, e.lodger(t, "rmi", busybox), 0)
		if rows := e.images(t); len(rows) != 0 {
			t.Errorf("images after removing the last name: %+v, want none", rows)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		wantError(t, e.lodger(t, "rmi", "no-such-image"), 1, "no-such-image")
	})
}
