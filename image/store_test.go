package image

import (
	"archive/tar"
	"bytes"
	"slices"
	"testing"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// newStore opens a vfs store in a temp dir. It chowns as lodger's store
// does, with no ignore_chown_errors: TestMain runs the tests as root, of
// the host or of a user namespace with the user's subordinate ids.
func newStore(t *testing.T) cstorage.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := cstorage.GetStore(types.StoreOptions{
		GraphRoot:       dir + "/graph",
		RunRoot:         dir + "/run",
		GraphDriverName: "vfs",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.Shutdown(true) })
	return s
}

// tarOf makes a tar archive of files named to their contents.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// counts are the images and layers in store.
func counts(t *testing.T, store cstorage.Store) (int, int) {
	t.Helper()
	imgs, err := store.Images()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := store.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(imgs), len(layers)
}
