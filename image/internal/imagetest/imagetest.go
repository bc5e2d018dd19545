// Package imagetest holds what the tests of image and image/transfer
// share: their TestMain, which stores layers as lodger does, and small
// store and archive helpers. Tests only.
package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/reexec"
	"go.podman.io/storage/pkg/unshare"
	"go.podman.io/storage/types"

	"github.com/lodger-containers/lodger/rootless"
)

// Main first lets storage re-execute the test binary for its layer
// helpers (storage-applyLayer and friends), as main does in lodger.
//
// Then, for a user who is not root, it re-executes the test binary in a user
// and mount namespace of its own, with the user as root and the user's
// /etc/subuid and /etc/subgid ranges mapped above it through newuidmap and
// newgidmap (storage's unshare.MaybeReexecUsingUserNamespace, what buildah
// does). Storing a layer chowns its directory to root and its files to
// their owners in the image, which a user can only do there (issue 17:
// every test that stored a layer failed with "chown …: operation not
// permitted"). This is how lodger itself stores layers, inside its session
// namespace, so the tests see what lodger sees, as root sees it. The other
// way, a store with a single-id mapping and vfs.ignore_chown_errors, needs
// no helper, but squashes every owner into the user's id: the ownership of
// image files would go untested without root. The price: newuidmap and a
// subordinate range (what lodger needs anyway, checked by `make test`
// first), and a test binary killed mid-run can leave files owned by
// subordinate ids in its temp dir; remove them with `lodger unshare rm -rf`.
// As root, nothing changes. pkg names the tests in an error.
func Main(m *testing.M, pkg string) {
	if reexec.Init() {
		return
	}
	if os.Geteuid() != 0 {
		if err := userNamespacePreflight(); err != nil {
			fmt.Fprintf(os.Stderr, "%s tests: %v (the tests store layers inside a user namespace with your subordinate ids; `make test` checks this first)\n", pkg, err)
			os.Exit(1)
		}
		// Does not return unless already inside it; exits with the
		// child's status.
		unshare.MaybeReexecUsingUserNamespace(false)
	}
	os.Exit(m.Run())
}

// userNamespacePreflight fails where the namespace would be made without
// the subordinate range (storage only warns) or not at all.
func userNamespacePreflight() error {
	m, err := rootless.LoadIDMap()
	if err != nil {
		return err
	}
	if m.Single {
		return fmt.Errorf("no range for %s in /etc/subuid and /etc/subgid: tests/setup-host.sh --check says the usermod command that adds a free one", m.User)
	}
	return rootless.Preflight()
}

// NewStore opens a vfs store in a temp dir. It chowns as lodger's store
// does, with no ignore_chown_errors: Main runs the tests as root, of the
// host or of a user namespace with the user's subordinate ids.
func NewStore(t *testing.T) cstorage.Store {
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

// TarOf makes a tar archive of files named to their contents.
func TarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range slices.Sorted(maps.Keys(files)) {
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

// Counts are the images and layers in store.
func Counts(t *testing.T, store cstorage.Store) (int, int) {
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
