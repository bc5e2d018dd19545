//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// imageID returns the full ID of image in e, from `image inspect`.
func (e *env) imageID(t *testing.T, image string) string {
	t.Helper()
	r := e.lodger(t, "image", "inspect", image)
	wantCode(t, r, 0)
	i := strings.Index(r.stdout, `"Id": "sha256:`)
	if i < 0 {
		t.Fatalf("%s\nwant an Id in the output", r)
	}
	return r.stdout[i+14 : i+14+64]
}

// TestTagPushPullBack tags the test busybox into another repository of
// the test registry, pushes it over plain http, removes it and pulls it
// back under the same ID.
func TestTagPushPullBack(t *testing.T) {
	e := isolatedEnv(t)
	id := e.pull(t, busybox, noTLS)
	target := registry + "/pushed/bb:v1"

	wantOK(t, e.lodger(t, "tag", id[:12], target, "local/bb"))
	names := map[string]bool{}
	for _, r := range e.images(t) {
		if r.ID == id {
			for _, n := range r.Names {
				names[n] = true
			}
		}
	}
	if !names[target] || !names["docker.io/local/bb:latest"] {
		t.Fatalf("names after tag: %v; want %s and docker.io/local/bb:latest", names, target)
	}

	r := e.lodger(t, "push", noTLS, target)
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "sha256:") {
		t.Errorf("%s\nwant the manifest digest on stdout", r)
	}
	if r.stderr == "" {
		t.Errorf("%s\nwant push progress on stderr", r)
	}
	wantOK(t, e.lodger(t, "push", "-q", noTLS, "local/bb", registry+"/pushed/bb:v2"))

	wantOK(t, e.lodger(t, "untag", id, "local/bb"))
	r = e.lodger(t, "rmi", target)
	wantCode(t, r, 0)
	r = e.lodger(t, "rmi", busybox)
	wantCode(t, r, 0)
	if len(e.images(t)) != 0 {
		t.Fatalf("images left after rmi: %+v", e.images(t))
	}
	for _, name := range []string{target, registry + "/pushed/bb:v2"} {
		if got := e.pull(t, name, noTLS); got != id {
			t.Errorf("pulled %s back as %s, want %s", name, got, id)
		}
	}

	t.Run("untag all", func(t *testing.T) {
		r := e.lodger(t, "untag", id)
		wantCode(t, r, 0)
		if len(lines(r.stdout)) != 2 {
			t.Errorf("%s\nwant one Untagged line per name", r)
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantError(t, e.lodger(t, "tag", "no-such-image", "x"), 1, "no-such-image", "not found")
		wantError(t, e.lodger(t, "push", noTLS, "no-such-image"), 1, "no-such-image", "not found")
		wantError(t, e.lodger(t, "push", "-q", noTLS, id, "127.0.0.1:1/x/y:z"), 1, "127.0.0.1:1")
		wantError(t, e.lodger(t, "tag", id), 1, "requires at least 2")
	})
}

// TestSaveLoad saves an image to a file and loads it into another
// installation, where it keeps its ID and runs.
func TestSaveLoad(t *testing.T) {
	e := isolatedEnv(t)
	id := e.pull(t, busybox, noTLS)
	archive := filepath.Join(e.tmp, "bb.tar")
	r := e.lodger(t, "save", "-q", "-o", archive, busybox)
	wantOK(t, r)
	if err := os.Chmod(archive, 0o644); err != nil {
		t.Fatal(err)
	}

	f := isolatedEnv(t)
	r = f.lodger(t, "load", "-q", "-i", archive)
	wantStdout(t, r, "Loaded image: "+busybox+"\n")
	if got := f.imageID(t, busybox); got != id {
		t.Errorf("loaded image ID %s, want %s", got, id)
	}
	wantStdout(t, f.runRm(t, busybox, "echo", "loaded"), "loaded\n")

	t.Run("stdin and stdout", func(t *testing.T) {
		out, err := os.Create(filepath.Join(e.tmp, "stdout.tar"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := e.command(t.Context(), "save", "-q", id[:12])
		cmd.Stdout = out
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("save to stdout: %v: %s", err, stderr.String())
		}
		out.Close()
		in, err := os.Open(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		g := isolatedEnv(t)
		r := call{env: g, stdin: in}.run(t, "load", "-q")
		// Saved by ID: the image comes back without a name, as in Docker.
		wantStdout(t, r, "Loaded image: "+id+"\n")
	})

	t.Run("oci-archive", func(t *testing.T) {
		oci := filepath.Join(e.tmp, "bb-oci.tar")
		wantOK(t, e.lodger(t, "save", "-q", "--format", "oci-archive", "-o", oci, busybox))
		g := isolatedEnv(t)
		r := g.lodger(t, "load", "-q", "-i", oci)
		wantStdout(t, r, "Loaded image: "+busybox+"\n")
		wantStdout(t, g.runRm(t, busybox, "echo", "oci"), "oci\n")
	})

	t.Run("errors", func(t *testing.T) {
		wantError(t, e.lodger(t, "save", "-o", filepath.Join(e.tmp, "x.tar"), "no-such-image"), 1, "no-such-image", "not found")
		wantError(t, e.lodger(t, "load", "-i", filepath.Join(e.tmp, "missing.tar")), 1, "missing.tar")
		junk := filepath.Join(e.tmp, "junk.tar")
		if err := os.WriteFile(junk, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.lodger(t, "load", "-i", junk), 1, "junk.tar")
		wantError(t, e.lodger(t, "save", "--format", "oci-archive", "-o", junk, busybox, ref("config:latest")), 1, "oci-archive holds one image")
	})
}

// TestSaveSeveralImages puts two images in one docker-archive.
func TestSaveSeveralImages(t *testing.T) {
	e := isolatedEnv(t)
	id1 := e.pull(t, busybox, noTLS)
	id2 := e.pull(t, ref("config:latest"), noTLS)
	archive := filepath.Join(e.tmp, "two.tar")
	wantOK(t, e.lodger(t, "save", "-q", "-o", archive, busybox, ref("config:latest")))
	if err := os.Chmod(archive, 0o644); err != nil {
		t.Fatal(err)
	}
	f := isolatedEnv(t)
	r := f.lodger(t, "load", "-q", "-i", archive)
	wantCode(t, r, 0)
	got := lines(r.stdout)
	slices.Sort(got)
	want := []string{"Loaded image: " + busybox, "Loaded image: " + ref("config:latest")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s\nwant %q", r, want)
	}
	for name, id := range map[string]string{busybox: id1, ref("config:latest"): id2} {
		if got := f.imageID(t, name); got != id {
			t.Errorf("%s: loaded ID %s, want %s", name, got, id)
		}
	}
}

// TestImageHistory shows one row per layer of an image built without
// history, newest first, the image ID on top.
func TestImageHistory(t *testing.T) {
	e := isolatedEnv(t)
	id := e.pull(t, ref("layers:latest"), noTLS)
	r := e.lodger(t, "image", "history", ref("layers:latest"))
	wantOK(t, r)
	ls := lines(r.stdout)
	if len(ls) < 3 || !strings.HasPrefix(ls[0], "IMAGE") || !strings.Contains(ls[0], "CREATED BY") {
		t.Fatalf("%s\nwant a header and a row per layer", r)
	}
	if !strings.HasPrefix(ls[1], id[:12]) {
		t.Errorf("%s\nwant the newest row to start with the image ID", r)
	}
	// As Docker's: the full ID (with its algorithm) of the image on top,
	// and <missing> for the rows no local image stands for.
	r = e.lodger(t, "history", "-q", "--no-trunc", ref("layers:latest"))
	wantOK(t, r)
	q := lines(r.stdout)
	if len(q) != len(ls)-1 || q[0] != "sha256:"+strings.TrimPrefix(id, "sha256:") {
		t.Errorf("%s\nwant %d rows, the full image ID first", r, len(ls)-1)
	}
	for _, l := range q[1:] {
		if l != "<missing>" {
			t.Errorf("%s\nwant <missing> for the rows below the image, as Docker prints", r)
			break
		}
	}
	wantError(t, e.lodger(t, "history", "no-such-image"), 1, "no-such-image")
	t.Run("image group", func(t *testing.T) {
		wantOK(t, e.lodger(t, "image", "ls", "-q"))
		wantOK(t, e.lodger(t, "image", "tag", id, "grouped/name"))
		r := e.lodger(t, "image", "rm", "grouped/name")
		wantCode(t, r, 0)
	})
}

// TestLoginLogout covers what the plain test registry allows: a login to
// an unreachable registry fails naming it, and logout --all succeeds.
// The credential file handling is unit-tested in image.
func TestLoginLogout(t *testing.T) {
	e := isolatedEnv(t)
	r := call{env: e, stdin: strings.NewReader("secret\n")}.run(t, "login", "-u", "me", "--password-stdin", "127.0.0.1:1")
	wantError(t, r, 1, "127.0.0.1:1")
	if strings.Contains(r.stdout+r.stderr, "secret") {
		t.Errorf("%s\nthe password was printed", r)
	}
	r = e.lodger(t, "login", "-u", "me", "-p", "secret", noTLS, "127.0.0.1:1")
	wantError(t, r, 1, "127.0.0.1:1", "insecure")
	if strings.Contains(r.stdout+r.stderr, "secret") {
		t.Errorf("%s\nthe password was printed", r)
	}
	if _, err := os.Stat(filepath.Join(e.runtime, "containers", "auth.json")); err == nil {
		t.Error("a failed login wrote auth.json")
	}
	r = e.lodger(t, "logout", "--all")
	wantCode(t, r, 0)
	wantError(t, e.lodger(t, "logout"), 1, "REGISTRY")
}

// TestPushHints checks the advice push gives for the mistakes people make
// most with a plain-http registry and an image ID.
func TestPushHints(t *testing.T) {
	e := isolatedEnv(t)
	id := e.pull(t, busybox, noTLS)
	wantError(t, e.lodger(t, "push", "-q", busybox), 1, busybox, "--tls-verify=false")
	wantError(t, e.lodger(t, "push", "-q", noTLS, id[:12]), 1, id[:12], "DESTINATION")
	wantError(t, e.lodger(t, "login", "-u", "me", "-p", "pw", registry), 1, registry, "--tls-verify=false")
}

// TestLoadPresentImage loads the archive of an image that is already
// here — committed, so its layers were not made by a load — as Docker
// does: it only names it again. It failed inside storage ("already
// exists, but uses a different top layer").
func TestLoadPresentImage(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantCode(t, e.lodger(t, "run", "--name", "mk", busybox, "touch", "/made"), 0)
	wantCode(t, e.lodger(t, "commit", "mk", "lodger-test-local/made:1"), 0)
	id := e.imageID(t, "lodger-test-local/made:1")
	archive := filepath.Join(e.tmp, "made.tar")
	wantOK(t, e.lodger(t, "save", "-q", "-o", archive, "lodger-test-local/made:1"))
	// Named again, as the archive says, when the name went elsewhere.
	wantCode(t, e.lodger(t, "tag", busybox, "lodger-test-local/made:1"), 0)
	for range 2 {
		r := e.lodger(t, "load", "-q", "-i", archive)
		wantCode(t, r, 0)
		if !strings.HasPrefix(r.stdout, "Loaded image: ") || !strings.HasSuffix(r.stdout, "lodger-test-local/made:1\n") {
			t.Errorf("%s\nwant Loaded image: …lodger-test-local/made:1", r)
		}
		if got := e.imageID(t, "lodger-test-local/made:1"); got != id {
			t.Errorf("made:1 is %s after the load, want %s", got, id)
		}
	}
}
