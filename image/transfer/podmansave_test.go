package transfer

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/lodger-containers/lodger/image"
)

// What podman 4.3.1 wrote into tests/testdata/podman-save (its README
// says how).
const (
	podmanHelloID     = "7c0975345c1d5cbb0d9115d25b0c984ea92b73ff566ec03d40a5e96e0d9b4455"
	podmanSecondID    = "fed6a57bfba55a28a0fd714bb2e8d7f8fed6ff3ad485773e72431dac58be6e45"
	podmanHelloOCIDig = "sha256:8a1a27741626342bcaef3359badb1bd4755bbed7401d60a9563335dad9747b48"
	podmanHelloText   = "hello from an image podman saved\n"
	podmanSecondText  = "a second image in the same archive\n"
)

var podmanSaveDir = filepath.Join("..", "..", "tests", "testdata", "podman-save")

// TestLoadPodmanSave loads every format podman save writes and finds each
// image with podman's ID, its name, its manifest digest where the archive
// has a manifest of its own, its configuration and its one file.
func TestLoadPodmanSave(t *testing.T) {
	hello := LoadedImage{ID: podmanHelloID, Names: []string{"localhost/lodger-podman/hello:v1"}}
	second := LoadedImage{ID: podmanSecondID, Names: []string{"localhost/lodger-podman/second:v2"}}
	for _, tc := range []struct {
		path   string
		want   []LoadedImage
		digest string // of hello's manifest, when the archive keeps one
	}{
		{path: "docker-archive.tar", want: []LoadedImage{hello}},
		{path: "oci-archive.tar", want: []LoadedImage{hello}, digest: podmanHelloOCIDig},
		{path: "oci-dir", want: []LoadedImage{hello}, digest: podmanHelloOCIDig},
		// docker-dir names no image.
		{path: "docker-dir", want: []LoadedImage{{ID: podmanHelloID}}},
		{path: "multi-image.tar", want: []LoadedImage{hello, second}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			got, err := Load(ctx, store, filepath.Join(podmanSaveDir, tc.path), image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("loaded (-want +got):\n%s", diff)
			}
			img, err := store.Image(podmanHelloID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.digest != "" && string(img.Digest) != tc.digest {
				t.Errorf("manifest digest %s, want %s as in the archive", img.Digest, tc.digest)
			}
			cfg, err := image.Config(ctx, store, podmanHelloID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Config.Cmd, []string{"/hello"}) || cfg.Config.Labels["org.example.made-by"] != "podman-save" {
				t.Errorf("config %+v, want CMD [/hello] and the label podman import set", cfg.Config)
			}
			if got := layerFile(t, store, img.TopLayer, "hello"); got != podmanHelloText {
				t.Errorf("/hello holds %q, want %q", got, podmanHelloText)
			}
			if len(tc.want) > 1 {
				img2, err := store.Image(podmanSecondID)
				if err != nil {
					t.Fatal(err)
				}
				if got := layerFile(t, store, img2.TopLayer, "hello"); got != podmanSecondText {
					t.Errorf("second image: /hello holds %q, want %q", got, podmanSecondText)
				}
			}
		})
	}
	t.Run("directory of neither kind", func(t *testing.T) {
		_, err := Load(context.Background(), newStore(t), t.TempDir(), image.Options{})
		if !errors.Is(err, image.ErrFormat) {
			t.Errorf("Load of an empty directory: %v, want image.ErrFormat", err)
		}
	})
}

// layerFile returns the content of the file name in the stored layer.
func layerFile(t *testing.T, store cstorage.Store, layer, name string) string {
	t.Helper()
	rc, err := store.Diff("", layer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := archive.DecompressStream(rc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("layer %s has no %s", layer, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Clean(hdr.Name) == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}
