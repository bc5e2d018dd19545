//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/tests/tarbomb"
)

// The unpack budget, attacked (issue 12, finding 4): a layer of a few KiB
// holding one sparse file of 256 MiB (PAX sparse 1.0), against
// max_unpacked_size = 64MiB, through every way an image gets in: pull and
// run from the registry (imagegen's sparse-bomb:latest), load of a
// docker-archive and an oci-archive, pull of an oci-archive, import.

// withBudget writes lodger.toml with max_unpacked_size = size into e and
// returns its path.
func withBudget(t *testing.T, e *env, size string) string {
	t.Helper()
	dir := filepath.Join(e.config, "lodger")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "lodger.toml")
	if err := os.WriteFile(p, []byte("[pull]\nmax_unpacked_size = \""+size+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// storedLayers lists e's layer directories (none is fine, unlike
// layerDirs) and the images `images -a` shows.
func storedLayers(t *testing.T, e *env) (layers []string, images []string) {
	t.Helper()
	root := e.info(t).Storage.GraphRoot
	for _, d := range []string{"overlay", "vfs/dir", "fuse-overlayfs"} {
		ents, _ := os.ReadDir(filepath.Join(root, d))
		for _, ent := range ents {
			if ent.IsDir() && layerDirRE.MatchString("/"+ent.Name()) {
				layers = append(layers, d+"/"+ent.Name())
			}
		}
	}
	r := e.lodger(t, "images", "-a", "-q", "--no-trunc")
	wantCode(t, r, 0)
	return layers, lines(r.stdout)
}

// wantStored fails unless e holds exactly the images given (by ID) and
// nLayers layer directories.
func wantStored(t *testing.T, e *env, nLayers int, ids ...string) {
	t.Helper()
	layers, images := storedLayers(t, e)
	if len(layers) != nLayers {
		t.Errorf("storage holds layers %v, want %d", layers, nLayers)
	}
	for i := range images {
		images[i] = strings.TrimPrefix(images[i], "sha256:")
	}
	slices.Sort(images)
	slices.Sort(ids)
	if !slices.Equal(images, ids) {
		t.Errorf("images -a lists %q, want %q", images, ids)
	}
}

// plainLayer is a tar of one small file, the layer under the bomb.
func plainLayer(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "first", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestUnpackBudgetSparseBomb(t *testing.T) {
	e := isolatedEnv(t)
	toml := withBudget(t, e, "64MiB")
	bomb := ref("sparse-bomb:latest")
	refused := []string{"more than the 64 MiB allowed", "at bomb, a file of 256 MiB", "[pull] max_unpacked_size in " + toml}

	t.Run("pull", func(t *testing.T) {
		r := e.lodger(t, "pull", "-q", noTLS, bomb)
		wantError(t, r, 1, append([]string{bomb}, refused...)...)
		wantStored(t, e, 0)
	})
	t.Run("run", func(t *testing.T) {
		r := e.lodger(t, "run", "--rm", "-q", noTLS, bomb, "true")
		wantError(t, r, 125, append([]string{bomb}, refused...)...)
		wantStored(t, e, 0)
	})

	// The positive control: an image within the budget pulls. Its layer
	// is the bomb's base, which a refused pull must leave in place.
	id := e.pull(t, busybox, noTLS)
	wantStored(t, e, 1, id)
	t.Run("pull over a layer present", func(t *testing.T) {
		r := e.lodger(t, "pull", "-q", noTLS, bomb)
		wantError(t, r, 1, append([]string{bomb}, refused...)...)
		wantStored(t, e, 1, id)
	})

	dir := t.TempDir()
	sparse := tarbomb.Sparse("bomb", 256<<20, []byte("the end of the hole\n"))
	files := map[string][]byte{
		"docker.tar": tarbomb.DockerArchive("localhost/bomb:v1", plainLayer(t), sparse),
		"oci.tar":    tarbomb.OCIArchive("localhost/bomb:v1", plainLayer(t), sparse),
		"bomb.tar":   sparse,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, archive := range []string{"docker.tar", "oci.tar"} {
		t.Run("load "+archive, func(t *testing.T) {
			r := e.lodger(t, "load", "-q", "-i", filepath.Join(dir, archive))
			wantError(t, r, 1, refused...)
			wantStored(t, e, 1, id)
		})
	}
	t.Run("pull oci-archive", func(t *testing.T) {
		src := "oci-archive:" + filepath.Join(dir, "oci.tar")
		r := e.lodger(t, "pull", "-q", src)
		wantError(t, r, 1, append([]string{src}, refused...)...)
		wantStored(t, e, 1, id)
	})
	t.Run("import", func(t *testing.T) {
		file := filepath.Join(dir, "bomb.tar")
		r := e.lodger(t, "import", file, "localhost/bomb:v1")
		wantError(t, r, 1, append([]string{"import " + file}, refused...)...)
		wantStored(t, e, 1, id)
	})

	// With the budget raised, the same image is what it claims: a file of
	// 256 MiB.
	withBudget(t, e, "1GiB")
	r := e.runRm(t, bomb, "stat", "-c", "%s", "/bomb")
	wantStdout(t, r, "268435456\n")
}
