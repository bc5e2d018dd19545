package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/internal/unpack"
	"github.com/lodger-containers/lodger/tests/tarbomb"
)

// The attacks on the unpack budget (issue 12, finding 4): layers whose tar
// stream is a few KiB and whose files are hundreds of MiB, through every
// path that writes layers.

const (
	bombSize   = 256 << 20
	bombBudget = 64 << 20
)

// sparseBomb is a tar of one sparse file of bombSize bytes, 3.5 KiB long.
func sparseBomb() []byte {
	return tarbomb.Sparse("bomb", bombSize, []byte("the end of the hole\n"))
}

// wantBudgetError fails unless err is a *BudgetError for the 64 MiB budget
// that names the sparse file, and ErrTooLarge.
func wantBudgetError(t *testing.T, err error, parts ...string) {
	t.Helper()
	var be *image.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BudgetError", err)
	}
	if !errors.Is(err, image.ErrTooLarge) {
		t.Errorf("error %v is not ErrTooLarge", err)
	}
	wantErrorContains(t, err, append([]string{"more than the 64 MiB allowed", "at bomb, a file of 256 MiB"}, parts...)...)
}

// TestMeterStopsBeforeTheHeader reads a metered sparse bomb with
// archive/tar, as storage does: the reader must never get the bomb's
// header, since archive/tar writes the hole without reading any further.
func TestMeterStopsBeforeTheHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layer  []byte
		budget int64
		bomb   bool
	}{
		{"sparse bomb", sparseBomb(), bombBudget, true},
		// More than a chunk after the bomb: the stream does not end in
		// the chunk that holds the bomb's header.
		{"sparse bomb, then more", followedBy(sparseBomb(), tarFile(t, "after", 2<<20)), bombBudget, true},
		{"sparse file under the budget", tarbomb.Sparse("bomb", 1<<20, []byte("tail")), bombBudget, false},
		{"plain file", tarFile(t, "bomb", 100<<10), 1 << 20, false},
		{"plain file over", tarFile(t, "bomb", 100<<10), 64 << 10, true},
		{"plain file over, then more", followedBy(tarFile(t, "bomb", 100<<10), tarFile(t, "after", 2<<20)), 64 << 10, true},
		{"empty files cost their headers", manyEmptyFiles(t, 1000), 256 << 10, true},
		{"fewer empty files", manyEmptyFiles(t, 100), 256 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time: the meter must hold back any chunk that
			// completes a header until it has charged it.
			m := unpack.NewMeter(oneByteReader{bytes.NewReader(tc.layer)}, unpack.NewBudget("img", tc.budget), "")
			defer m.Close()
			tr := tar.NewReader(m)
			var err error
			for {
				var hdr *tar.Header
				hdr, err = tr.Next()
				if err != nil {
					break
				}
				if tc.bomb && hdr.Name == "bomb" {
					t.Fatalf("the reader got the header of %s (%d bytes) through a budget of %d", hdr.Name, hdr.Size, tc.budget)
				}
				if _, err = io.Copy(io.Discard, tr); err != nil {
					break
				}
			}
			var be *image.BudgetError
			switch {
			case tc.bomb && !errors.As(err, &be):
				t.Fatalf("read: %v, want a *BudgetError", err)
			case tc.bomb:
				t.Logf("error: %v", err)
			case err != io.EOF:
				t.Fatalf("read: %v, want the whole tar", err)
			}
		})
	}
}

// followedBy is the tar layer with the entries of the tar more after its
// own: layer without the two zero blocks that end it (all archive/tar and
// tarbomb write), then more.
func followedBy(layer, more []byte) []byte {
	return append(bytes.Clone(layer[:len(layer)-1024]), more...)
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func manyEmptyFiles(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPullSparseBomb serves the sparse bomb from a registry, on the
// streaming path and on copy.Image's (a non-distributable layer type the
// streaming path leaves to containers/image), behind a good layer.
func TestPullSparseBomb(t *testing.T) {
	bomb := sparseBomb()
	for _, tc := range []struct {
		name      string
		mediaType string
	}{
		{"streamed", imgspecv1.MediaTypeImageLayerGzip},
		{"copy.Image", imgspecv1.MediaTypeImageLayerNonDistributableGzip}, //nolint:staticcheck // the type the streaming path does not take
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := compressBytes(t, bomb, gzipWriter)
			f := newFakeRegistry(t)
			small := tarFile(t, "first", 100)
			f.put("test/sparse", "v1",
				fakeLayer{blob: compressBytes(t, small, gzipWriter), mediaType: tc.mediaType, diffID: digest.FromBytes(small)},
				fakeLayer{blob: blob, mediaType: tc.mediaType, diffID: digest.FromBytes(bomb)})
			store := newStore(t)
			_, err := pullFake(t, store, f, "test/sparse:v1", image.Options{MaxUnpackedSize: bombBudget})
			wantBudgetError(t, err, digest.FromBytes(blob).String(), "test/sparse:v1")
			t.Logf("error: %v", err)
			wantNothingLeft(t, store)
			// The same image within a budget that holds it: the positive
			// control, and proof the path is the one named.
			if _, err := pullFake(t, store, f, "test/sparse:v1", image.Options{MaxUnpackedSize: 512 << 20}); err != nil {
				t.Fatalf("pull within the budget: %v", err)
			}
		})
	}
}

// TestLoadSparseBomb loads the bomb from a docker-archive, an oci-archive
// and an OCI layout directory.
func TestLoadSparseBomb(t *testing.T) {
	bomb := sparseBomb()
	good := tarFile(t, "first", 100)
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker.tar")
	oci := filepath.Join(dir, "oci.tar")
	if err := os.WriteFile(docker, tarbomb.DockerArchive("localhost/bomb:v1", good, bomb), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oci, tarbomb.OCIArchive("localhost/bomb:v1", good, bomb), 0o644); err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(dir, "layout")
	if err := untar(tarbomb.OCIArchive("localhost/bomb:v1", good, bomb), layoutDir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, path string }{
		{"docker-archive", docker},
		{"oci-archive", oci},
		{"oci layout", layoutDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			_, err := Load(ctx, store, tc.path, image.Options{MaxUnpackedSize: bombBudget})
			wantBudgetError(t, err)
			t.Logf("error: %v", err)
			wantNothingLeft(t, store)
			loaded, err := Load(ctx, store, tc.path, image.Options{MaxUnpackedSize: 512 << 20})
			if err != nil || len(loaded) != 1 {
				t.Fatalf("load within the budget: %v, %v", loaded, err)
			}
		})
	}
	t.Run("pull oci-archive:", func(t *testing.T) {
		store := newStore(t)
		_, err := Pull(ctx, store, "oci-archive:"+oci, image.Options{MaxUnpackedSize: bombBudget})
		wantBudgetError(t, err, "oci-archive:"+oci)
		wantNothingLeft(t, store)
		if _, err := Pull(ctx, store, "docker-archive:"+docker, image.Options{MaxUnpackedSize: 512 << 20}); err != nil {
			t.Fatalf("pull within the budget: %v", err)
		}
	})
}

// TestImportSparseBomb imports the bomb, plain and gzipped.
func TestImportSparseBomb(t *testing.T) {
	bomb := sparseBomb()
	for _, tc := range []struct {
		name  string
		layer []byte
	}{
		{"tar", bomb},
		{"tar.gz", compressBytes(t, bomb, gzipWriter)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			_, err := image.Commit(context.Background(), store, bytes.NewReader(tc.layer), image.CommitOptions{MaxUnpackedSize: bombBudget})
			wantBudgetError(t, err)
			t.Logf("error: %v", err)
			wantNothingLeft(t, store)
			id, err := image.Commit(context.Background(), store, bytes.NewReader(tc.layer), image.CommitOptions{MaxUnpackedSize: 512 << 20})
			if err != nil {
				t.Fatalf("import within the budget: %v", err)
			}
			img, err := store.Image(id)
			if err != nil {
				t.Fatal(err)
			}
			l, err := store.Layer(img.TopLayer)
			if err != nil || l.UncompressedDigest != digest.FromBytes(bomb) {
				t.Errorf("layer %+v, %v; want diff_id %s", l, err, digest.FromBytes(bomb))
			}
		})
	}
}

// untar unpacks an archive of regular files and directories into dir.
func untar(b []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(hdr.Name, "/")))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
}
