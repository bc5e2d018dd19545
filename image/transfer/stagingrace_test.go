package transfer

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"

	"github.com/lodger-containers/lodger/image"
)

func TestStagingRace(t *testing.T) {
	rename := &os.LinkError{Op: "rename", Old: "/s/overlay-layers/tmp/temp-dir-123/0-addition", New: "/s/overlay-layers/abc.tar-split.gz", Err: syscall.ENOENT}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("unpack layer sha256:1: %w", rename), true},
		// Storage's message, should it ever stop wrapping.
		{fmt.Errorf("unpack layer sha256:1: %v", rename), true},
		{fmt.Errorf("unpack layer sha256:1: %w", &os.LinkError{Op: "rename", Old: "/s/overlay-layers/tmp/temp-dir-1/0-addition", New: "/x", Err: syscall.ENOSPC}), false},
		{fmt.Errorf("unpack layer sha256:1: %w", &os.PathError{Op: "open", Path: "/s/overlay/abc/diff/etc/passwd", Err: syscall.ENOENT}), false},
		// The unpacked files' staging directory, removed under the
		// chrooted unpack (TestUserNetworkParallel in CI).
		{fmt.Errorf("unpack layer sha256:1: %w", errors.New("unpacking failed (error: exit status 1; output: mkdir /usr: no such file or directory)")), true},
		{fmt.Errorf("unpack layer sha256:1: %w", errors.New("unpacking failed (error: exit status 1; output: no space left on device)")), false},
		{errors.New("fetch layer sha256:1: unexpected EOF"), false},
	} {
		if got := stagingRace(c.err); got != c.want {
			t.Errorf("stagingRace(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestPullUnpacksAgainWhenStagingVanishes plays storage's race for real:
// the overlay driver unpacks a layer into a staging directory under
// overlay/tempdirs without the store's lock, and another process's
// cleanup removes it under the unpack. The registry serves the layer's
// first file, waits until the unpack wrote it, removes the staging
// directories as that cleanup would, and serves the rest: the chrooted
// unpack fails ("mkdir /usr: no such file or directory"), and the pull
// must fetch and unpack the layer again and succeed.
func TestPullUnpacksAgainWhenStagingVanishes(t *testing.T) {
	dir := t.TempDir()
	store, err := cstorage.GetStore(types.StoreOptions{GraphRoot: dir + "/graph", RunRoot: dir + "/run", GraphDriverName: "overlay"})
	if err != nil {
		t.Fatalf("an overlay store (lodger's driver): %v", err)
	}
	t.Cleanup(func() { _, _ = store.Shutdown(true) })

	// A tar of "first", then usr/ and usr/second.
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(hdr *tar.Header, body string) {
		t.Helper()
		hdr.Size = int64(len(body))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Larger than the chunks lodger's meter hands storage (1 MiB), so
	// that the unpack has begun when the first part ends.
	first := strings.Repeat("one\n", 768<<10)
	add(&tar.Header{Name: "first", Mode: 0o644, Typeflag: tar.TypeReg}, first)
	firstEnd := b.Len()
	add(&tar.Header{Name: "usr/", Mode: 0o755, Typeflag: tar.TypeDir}, "")
	add(&tar.Header{Name: "usr/second", Mode: 0o644, Typeflag: tar.TypeReg}, "two\n")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer := b.Bytes()

	f := newFakeRegistry(t)
	f.put("test/staging", "v1", fakeLayer{blob: layer, mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(layer)})
	staging := filepath.Join(store.GraphRoot(), "overlay", "tempdirs")
	var gets atomic.Int32
	f.putBlob(digest.FromBytes(layer), fakeObject{serve: func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			return
		}
		if gets.Add(1) > 1 {
			_, _ = w.Write(layer)
			return
		}
		_, _ = w.Write(layer[:firstEnd])
		w.(http.Flusher).Flush()
		// The unpack wrote "first" into its staging directory: remove
		// that directory, as another process's cleanup would.
		deadline := time.Now().Add(30 * time.Second)
		for {
			m, _ := filepath.Glob(filepath.Join(staging, "temp-dir-*", "*", "first"))
			if len(m) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no staged %s/temp-dir-*/*/first within 30 s", staging)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		dirs, _ := filepath.Glob(filepath.Join(staging, "temp-dir-*"))
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("remove the staging directory: %v", err)
			}
		}
		_, _ = w.Write(layer[firstEnd:])
	}})

	id, err := pullFake(t, store, f, "test/staging:v1", image.Options{})
	if err != nil {
		t.Fatalf("pull after the staging directory vanished: %v", err)
	}
	if n := gets.Load(); n != 2 {
		t.Errorf("the layer was fetched %d times, want 2 (the first unpack failed, the second took it)", n)
	}
	img, err := store.Image(id)
	if err != nil {
		t.Fatal(err)
	}
	mnt, err := store.MountImage(img.ID, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = store.UnmountImage(img.ID, true) }()
	for name, want := range map[string]string{"first": first, "usr/second": "two\n"} {
		got, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil || string(got) != want {
			t.Errorf("%s in the pulled image: %d bytes, %v; want %d", name, len(got), err, len(want))
		}
	}
}
