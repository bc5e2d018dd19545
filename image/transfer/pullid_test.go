package transfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"

	"github.com/lodger-containers/lodger/image"
)

// TestPullReturnsTheCopiedImage moves the pulled name to another image
// right after copy.Image has stored the pulled one, as a concurrent pull,
// tag or load of the same name by another lodger process may (issue 14).
// Pull must still return the ID of the image it copied: `lodger run`
// starts what Pull returns.
func TestPullReturnsTheCopiedImage(t *testing.T) {
	// Non-distributable layers: the streaming path leaves them to
	// copy.Image, the path under test.
	nondist := imgspecv1.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck // the type the streaming path does not take
	layer := func(name string) fakeLayer {
		tb := tarFile(t, name, 100)
		return fakeLayer{blob: compressBytes(t, tb, gzipWriter), mediaType: nondist, diffID: digest.FromBytes(tb)}
	}
	otherArch := "arm64"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}

	for _, tc := range []struct {
		name string
		// put serves the image under test as test/moved:v1 and returns
		// the digest of the manifest of the image that must be stored
		// and the ID it must have ("" when only storage knows it).
		put func(f *fakeRegistry) (manifestDigest digest.Digest, id string)
	}{
		{"image", func(f *fakeRegistry) (digest.Digest, string) {
			m, cfg := f.put("test/moved", "v1", layer("moved"))
			return m, cfg.Encoded()
		}},
		{"index", func(f *fakeRegistry) (digest.Digest, string) {
			// The instance for this machine, listed after another one:
			// the ID is the chosen instance's.
			otherM, _ := f.put("test/moved", "other", layer("other-arch"))
			thisM, thisCfg := f.put("test/moved", "this", layer("this-arch"))
			size := func(key string) int64 { return int64(len(f.manifests[key].body)) }
			idx := imgspecv1.Index{Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex,
				Manifests: []imgspecv1.Descriptor{
					{MediaType: imgspecv1.MediaTypeImageManifest, Digest: otherM, Size: size("test/moved:other"),
						Platform: &imgspecv1.Platform{OS: "linux", Architecture: otherArch}},
					{MediaType: imgspecv1.MediaTypeImageManifest, Digest: thisM, Size: size("test/moved:this"),
						Platform: &imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH}},
				}}
			body := mustJSON(t, idx)
			d := digest.FromBytes(body)
			obj := fakeObject{body: body, contentType: imgspecv1.MediaTypeImageIndex, digest: d}
			f.setManifest("test/moved:v1", obj)
			f.setManifest("test/moved@"+d.String(), obj)
			return thisM, thisCfg.Encoded()
		}},
		{"schema1", func(f *fakeRegistry) (digest.Digest, string) {
			// Storage makes up the ID of a schema 1 image from its
			// manifest: there is no config digest to take it from.
			l := layer("schema1")
			blob := digest.FromBytes(l.blob)
			f.putBlob(blob, fakeObject{body: l.blob})
			body := schema1Manifest(t, "test/moved", blob)
			d := digest.FromBytes(body)
			obj := fakeObject{body: body, contentType: manifest.DockerV2Schema1MediaType, digest: d}
			f.setManifest("test/moved:v1", obj)
			f.setManifest("test/moved@"+d.String(), obj)
			return d, ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRegistry(t)
			store := newStore(t)
			// The image the name is moved to, pulled first.
			tb := tarFile(t, "elsewhere", 100)
			f.put("test/elsewhere", "v1", fakeLayer{blob: compressBytes(t, tb, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(tb)})
			elsewhere, err := pullFake(t, store, f, "test/elsewhere:v1", image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			manDigest, wantID := tc.put(f)

			name := f.host + "/test/moved:v1"
			moved := 0
			afterCopy = func() {
				moved++
				if err := store.AddNames(elsewhere, []string{name}); err != nil {
					t.Errorf("move %s to the other image: %v", name, err)
				}
			}
			t.Cleanup(func() { afterCopy = nil })
			id, err := pullFake(t, store, f, "test/moved:v1", image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if moved != 1 {
				t.Fatalf("the name was moved %d times, want once after copy.Image (did the pull stream?)", moved)
			}
			if id == elsewhere {
				t.Fatalf("Pull returned %s, the image the name was moved to, not the one it pulled", shortID(id))
			}
			if wantID != "" && id != wantID {
				t.Errorf("Pull returned %s, want the pulled image's ID %s", shortID(id), shortID(wantID))
			}
			img, err := store.Image(id)
			if err != nil {
				t.Fatalf("the image Pull returned: %v", err)
			}
			if !slices.Contains(img.Digests, manDigest) {
				t.Errorf("image %s has manifest digests %v, want the pulled %s", shortID(id), img.Digests, manDigest)
			}
			// The control: the name did move, as the race would move it.
			if img, err := image.Lookup(store, name, image.Options{}); err != nil || img.ID != elsewhere {
				t.Errorf("%s names %v (%v) after the move, want %s", name, img, err, shortID(elsewhere))
			}
		})
	}
}

// schema1Manifest is an unsigned schema 1 manifest of one gzip layer.
func schema1Manifest(t *testing.T, name string, blob digest.Digest) []byte {
	t.Helper()
	v1 := fmt.Sprintf(`{"id":"%s","created":"2020-01-01T00:00:00Z","os":"linux","architecture":"%s","config":{"Cmd":["/bin/sh"]}}`,
		digest.FromString(name+" layer").Encoded(), runtime.GOARCH)
	return mustJSON(t, map[string]any{
		"schemaVersion": 1, "name": name, "tag": "v1", "architecture": runtime.GOARCH,
		"fsLayers": []map[string]string{{"blobSum": blob.String()}},
		"history":  []map[string]string{{"v1Compatibility": v1}},
	})
}

// TestLoadSchema1Dir loads a schema 1 image from a docker-dir (the layout
// of containers/image's dir: transport), which names no image: with no
// config digest to take an ID from either, storage cannot be given a
// reference for it. Load must refuse it with an error saying so, not
// panic (reading the empty config digest did) nor leave layers behind.
func TestLoadSchema1Dir(t *testing.T) {
	dir := t.TempDir()
	tb := tarFile(t, "schema1", 100)
	blob := compressBytes(t, tb, gzipWriter)
	d := digest.FromBytes(blob)
	for file, body := range map[string][]byte{
		"version":       []byte("Directory Transport Version: 1.1\n"),
		"manifest.json": schema1Manifest(t, "test/schema1", d),
		d.Encoded():     blob,
	} {
		if err := os.WriteFile(filepath.Join(dir, file), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := newStore(t)
	loaded, err := Load(context.Background(), store, dir, image.Options{})
	if !errors.Is(err, image.ErrFormat) {
		t.Fatalf("Load = %v, %v; want ErrFormat", loaded, err)
	}
	t.Logf("error: %v", err)
	wantErrorContains(t, err, dir, "schema 1", "convert it")
	wantNothingLeft(t, store)
}
