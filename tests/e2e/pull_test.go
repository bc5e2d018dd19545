//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestPull checks what pull prints and that images then lists the image in
// all three formats.
func TestPull(t *testing.T) {
	e := isolatedEnv(t)
	image := ref("busybox:latest")

	r := e.lodger(t, "pull", noTLS, image)
	wantCode(t, r, 0)
	if !imageIDRE.MatchString(r.stdout) {
		t.Fatalf("%s\nwant only a 64-hex image id and a newline on stdout", r)
	}
	if r.stderr == "" {
		t.Errorf("%s\nwant pull progress on stderr", r)
	}
	id := strings.TrimSpace(r.stdout)

	t.Run("quiet", func(t *testing.T) {
		r := e.lodger(t, "pull", "-q", noTLS, image)
		wantOK(t, r)
		if got := strings.TrimSpace(r.stdout); got != id {
			t.Errorf("%s\nwant the same id %s again", r, id)
		}
	})

	t.Run("images table", func(t *testing.T) {
		r := e.lodger(t, "images")
		wantOK(t, r)
		ls := lines(r.stdout)
		if len(ls) != 2 {
			t.Fatalf("%s\nwant a header and one row", r)
		}
		if h := strings.Fields(ls[0]); len(h) < 3 || !slices.Equal(h[:3], []string{"REPOSITORY", "TAG", "IMAGE"}) {
			t.Errorf("%s\nwant a REPOSITORY TAG IMAGE ID ... header", r)
		}
		row := strings.Fields(ls[1])
		if len(row) < 3 || row[0] != registry+"/lodger-test/busybox" || row[1] != "latest" || row[2] != id[:12] {
			t.Errorf("%s\nwant row %s/lodger-test/busybox latest %s ...", r, registry, id[:12])
		}
	})

	t.Run("images json", func(t *testing.T) {
		rows := e.images(t)
		if len(rows) != 1 {
			t.Fatalf("want one image, got %+v", rows)
		}
		got := rows[0]
		if got.ID != id || got.Repository != registry+"/lodger-test/busybox" || got.Tag != "latest" || !slices.Contains(got.Names, image) {
			t.Errorf("images --format json: got %+v, want Id %s, Repository %s/lodger-test/busybox, Tag latest, Names with %s", got, id, registry, image)
		}
	})

	t.Run("images quiet", func(t *testing.T) {
		wantStdout(t, e.lodger(t, "images", "-q"), id[:12]+"\n")
	})

	t.Run("run by short id", func(t *testing.T) {
		wantStdout(t, e.lodger(t, "run", "--rm", "-q", id[:12], "echo", "ok"), "ok\n")
	})

	t.Run("by digest", func(t *testing.T) {
		rows := e.images(t)
		if len(rows) == 0 || !strings.HasPrefix(rows[0].Digest, "sha256:") {
			t.Fatalf("images --format json: %+v, want a sha256 Digest", rows)
		}
		byDigest := registry + "/lodger-test/busybox@" + rows[0].Digest
		if got := e.pull(t, byDigest, noTLS); got != id {
			t.Errorf("pull %s: id %s, want %s", byDigest, got, id)
		}
		wantStdout(t, e.lodger(t, "run", "--rm", "-q", noTLS, byDigest, "echo", "ok"), "ok\n")
	})
}

// TestRunPullsMissingImage checks that run pulls what it lacks, with the
// progress on stderr and only the container's output on stdout.
func TestRunPullsMissingImage(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "--rm", noTLS, busybox, "echo", "hi")
	wantStdout(t, r, "hi\n")
	if r.stderr == "" {
		t.Errorf("%s\nwant pull progress on stderr", r)
	}
	// The second time the image is there: nothing to report.
	wantOK(t, e.lodger(t, "run", "--rm", noTLS, busybox, "true"))
	if rows := e.images(t); len(rows) != 1 || rows[0].Repository != registry+"/lodger-test/busybox" {
		t.Errorf("images: %+v, want the one pulled image", rows)
	}
}

// TestPullZstd pulls the zstd-compressed variant into an empty store, so
// its layer really is decompressed from zstd, and runs it.
func TestPullZstd(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, ref("busybox:zstd"), noTLS)
	r := e.runRm(t, ref("busybox:zstd"), "sh", "-c", `echo "$IMAGE_VAR"; ls /bin/busybox`)
	wantStdout(t, r, "from-image\n/bin/busybox\n")
}

// TestPullMultiarch pulls an index and must pick linux/amd64.
func TestPullMultiarch(t *testing.T) {
	wantStdout(t, runRm(t, ref("multiarch:latest"), "cat", "/arch"), "amd64\n")
}

// TestShortName resolves an unqualified name through the user's
// registries.conf, whose insecure=true also stands in for --tls-verify=false.
func TestShortName(t *testing.T) {
	e := isolatedEnv(t)
	conf := `unqualified-search-registries = ["` + registry + `"]

[[registry]]
location = "` + registry + `"
insecure = true
`
	dir := filepath.Join(e.config, "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.lodger(t, "run", "--rm", "-q", "lodger-test/busybox", "true"))
	id := e.pull(t, "lodger-test/busybox")
	rows := e.images(t)
	if len(rows) != 1 || rows[0].ID != id || rows[0].Repository != registry+"/lodger-test/busybox" {
		t.Errorf("images: got %+v, want the one image %s from %s/lodger-test/busybox", rows, id, registry)
	}
}

// TestPullOCIArchive pulls the oci-archive imagegen wrote and runs it.
func TestPullOCIArchive(t *testing.T) {
	if ociArchive == "" {
		t.Fatal("LODGER_TEST_OCI_ARCHIVE is not set: give an archive from `imagegen -oci-archive FILE` (tests/e2e/run.sh does)")
	}
	e := isolatedEnv(t)
	id := e.pull(t, "oci-archive:"+ociArchive)
	if rows := e.images(t); len(rows) != 1 || rows[0].ID != id {
		t.Errorf("images: got %+v, want the one image %s", rows, id)
	}
	r := e.lodger(t, "run", "--rm", "-q", id, "sh", "-c", `echo "$IMAGE_VAR"; grep -c alice /etc/passwd`)
	wantStdout(t, r, "from-image\n1\n")
}

// TestRunPullsInParallel starts thirty containers of an image not yet
// pulled at once, as a compose scale or a test suite does: each `run`
// pulls, one of them downloads each layer and the others wait for it and
// take it, and every run succeeds. Before, several unpacked the same
// layers at once and some failed inside storage (issue 14's parallel
// case found it).
func TestRunPullsInParallel(t *testing.T) {
	e := isolatedEnv(t)
	const n = 30
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := call{env: e}.do("run", "--rm", "-q", noTLS, netImage(), "echo", fmt.Sprintf("run %d", i))
			if err != nil {
				t.Error(err)
				return
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.code != 0 || !strings.HasPrefix(r.stdout, "run ") {
			t.Errorf("%s\nwant exit 0 and the container's line", r)
		}
	}
	if rows := e.images(t); len(rows) != 1 {
		t.Errorf("images: %+v, want the one image", rows)
	}
}
