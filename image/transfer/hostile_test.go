package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// pullFake pulls name:tag from f into store with a deadline, so that a
// pull which hangs fails the test instead of stalling it.
func pullFake(t *testing.T, store cstorage.Store, f *fakeRegistry, ref string, o image.Options) (string, error) {
	t.Helper()
	insecure := false
	o.TLSVerify = &insecure
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := Pull(ctx, store, f.host+"/"+ref, o)
	if ctx.Err() != nil {
		t.Fatalf("pull of %s did not finish in time: %v", ref, err)
	}
	return id, err
}

// wantNothingLeft fails unless store holds no layers and no images.
func wantNothingLeft(t *testing.T, store cstorage.Store) {
	t.Helper()
	layers, err := store.Layers()
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := store.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 0 || len(imgs) != 0 {
		t.Errorf("the failed pull left %d layers and %d images in storage", len(layers), len(imgs))
	}
}

// wantGoodPull checks that store still takes a good image from f.
func wantGoodPull(t *testing.T, store cstorage.Store, f *fakeRegistry) {
	t.Helper()
	tarball := tarFile(t, "good", 1000)
	f.put("test/good", "v1", fakeLayer{blob: compressBytes(t, tarball, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(tarball)})
	if _, err := pullFake(t, store, f, "test/good:v1", image.Options{}); err != nil {
		t.Errorf("a good pull after the bad one: %v", err)
	}
}

func wantErrorContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("pull succeeded, want an error with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// TestPullBoundedReads serves a manifest, a config and layers larger than
// lodger accepts or than their descriptors say, and bodies that never
// end: each pull must fail promptly naming what was too large.
func TestPullBoundedReads(t *testing.T) {
	layer := tarFile(t, "f", 100)
	goodLayer := fakeLayer{blob: layer, mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(layer)}

	t.Run("manifest over 4 MiB", func(t *testing.T) {
		f := newFakeRegistry(t)
		big := append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"`), bytes.Repeat([]byte("a"), 5<<20)...)
		big = append(big, `"}}`...)
		f.putManifest("test/big", "v1", big)
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/big:v1", image.Options{})
		wantErrorContains(t, err, "manifest", "4194304")
		wantNothingLeft(t, store)
	})
	t.Run("endless manifest", func(t *testing.T) {
		f := newFakeRegistry(t)
		f.setManifest("test/endless:v1", fakeObject{contentType: imgspecv1.MediaTypeImageManifest, serve: endless})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/endless:v1", image.Options{})
		wantErrorContains(t, err, "manifest", "4194304")
		wantNothingLeft(t, store)
	})
	t.Run("config over 4 MiB", func(t *testing.T) {
		f := newFakeRegistry(t)
		_, cfg := f.put("test/bigconfig", "v1", goodLayer)
		big := append([]byte(`{"architecture":"x","os":"linux","config":{"Labels":{"x":"`), bytes.Repeat([]byte("a"), 5<<20)...)
		big = append(big, `"}}}`...)
		// Served under the digest the manifest names; the size check
		// must come first.
		f.putBlob(cfg, fakeObject{body: big})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/bigconfig:v1", image.Options{})
		wantErrorContains(t, err, "config "+cfg.String(), "4 MiB")
		if !errors.Is(err, image.ErrTooLarge) {
			t.Errorf("error %v is not ErrTooLarge", err)
		}
		wantNothingLeft(t, store)
	})
	t.Run("endless config", func(t *testing.T) {
		f := newFakeRegistry(t)
		_, cfg := f.put("test/endlessconfig", "v1", goodLayer)
		f.putBlob(cfg, fakeObject{serve: endless})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/endlessconfig:v1", image.Options{})
		wantErrorContains(t, err, "config "+cfg.String(), "4 MiB")
		wantNothingLeft(t, store)
	})
	t.Run("layer longer than its descriptor", func(t *testing.T) {
		f := newFakeRegistry(t)
		f.put("test/long", "v1", goodLayer)
		d := digest.FromBytes(layer)
		f.putBlob(d, fakeObject{body: append(append([]byte{}, layer...), bytes.Repeat([]byte{0}, 4096)...)})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/long:v1", image.Options{})
		wantErrorContains(t, err, d.String(), "longer than the 2048 bytes")
		if !errors.Is(err, image.ErrTooLarge) {
			t.Errorf("error %v is not ErrTooLarge", err)
		}
		wantNothingLeft(t, store)
		wantGoodPull(t, store, f)
	})
	t.Run("endless layer", func(t *testing.T) {
		f := newFakeRegistry(t)
		f.put("test/endlesslayer", "v1", goodLayer)
		d := digest.FromBytes(layer)
		f.putBlob(d, fakeObject{serve: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(layer)
			endless(w, r)
		}})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/endlesslayer:v1", image.Options{})
		wantErrorContains(t, err, d.String(), "longer than")
		wantNothingLeft(t, store)
	})
	t.Run("layer shorter than its descriptor", func(t *testing.T) {
		f := newFakeRegistry(t)
		f.put("test/short", "v1", goodLayer)
		d := digest.FromBytes(layer)
		f.putBlob(d, fakeObject{body: layer[:1000]})
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/short:v1", image.Options{})
		wantErrorContains(t, err, d.String())
		wantNothingLeft(t, store)
		wantGoodPull(t, store, f)
	})
}

// TestPullBombs serves layers of a few kilobytes that unpack to 256 MiB,
// against a 64 MiB budget: the pull must stop and leave nothing behind.
func TestPullBombs(t *testing.T) {
	const unpacked = 256 << 20
	for _, tc := range []struct {
		name      string
		compress  func(io.Writer) io.WriteCloser
		mediaType string
	}{
		{"gzip", gzipWriter, imgspecv1.MediaTypeImageLayerGzip},
		{"zstd", zstdWriter, imgspecv1.MediaTypeImageLayerZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob, diffID := bombTar(t, unpacked, tc.compress)
			t.Logf("%d bytes of %s unpack to %d", len(blob), tc.name, unpacked)
			f := newFakeRegistry(t)
			small := tarFile(t, "first", 100)
			// A good layer first, so that cleaning up means more than
			// storage dropping the layer it was writing.
			f.put("test/bomb", "v1",
				fakeLayer{blob: small, mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(small)},
				fakeLayer{blob: blob, mediaType: tc.mediaType, diffID: diffID})
			store := newStore(t)
			_, err := pullFake(t, store, f, "test/bomb:v1", image.Options{MaxUnpackedSize: 64 << 20})
			wantErrorContains(t, err, digest.FromBytes(blob).String(), "more than the 64 MiB allowed")
			if !errors.Is(err, image.ErrTooLarge) {
				t.Errorf("error %v is not ErrTooLarge", err)
			}
			wantNothingLeft(t, store)
			wantGoodPull(t, store, f)
		})
	}
	t.Run("budget is for the whole image", func(t *testing.T) {
		f := newFakeRegistry(t)
		var layers []fakeLayer
		for i := range 3 {
			tb := tarFile(t, string(rune('a'+i)), 40<<10)
			layers = append(layers, fakeLayer{blob: compressBytes(t, tb, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(tb)})
		}
		f.put("test/three", "v1", layers...)
		store := newStore(t)
		_, err := pullFake(t, store, f, "test/three:v1", image.Options{MaxUnpackedSize: 100 << 10})
		wantErrorContains(t, err, "more than the 100 KiB allowed")
		wantNothingLeft(t, store)
		if _, err := pullFake(t, store, f, "test/three:v1", image.Options{MaxUnpackedSize: 200 << 10}); err != nil {
			t.Errorf("pull within the budget: %v", err)
		}
	})
}

// TestPullBrokenLayers serves layers cut short or not tar at all, in each
// compression format: each pull fails cleanly, promptly, leaving nothing.
func TestPullBrokenLayers(t *testing.T) {
	good := tarFile(t, "file", 64<<10)
	rng := rand.New(rand.NewSource(1))
	garbage := make([]byte, 64<<10)
	rng.Read(garbage)
	formats := []struct {
		name      string
		compress  func(io.Writer) io.WriteCloser
		mediaType string
	}{
		{"gzip", gzipWriter, imgspecv1.MediaTypeImageLayerGzip},
		{"zstd", zstdWriter, imgspecv1.MediaTypeImageLayerZstd},
		{"uncompressed", plainWriter, imgspecv1.MediaTypeImageLayer},
	}
	for _, format := range formats {
		t.Run(format.name+"/truncated", func(t *testing.T) {
			// The blob as served matches its descriptor and digest; the
			// compressed stream or the tar inside it stops halfway.
			full := compressBytes(t, good, format.compress)
			blob := full[:len(full)/2]
			f := newFakeRegistry(t)
			f.put("test/truncated", "v1", fakeLayer{blob: blob, mediaType: format.mediaType, diffID: digest.FromBytes(good)})
			store := newStore(t)
			_, err := pullFake(t, store, f, "test/truncated:v1", image.Options{})
			wantErrorContains(t, err, digest.FromBytes(blob).String())
			t.Logf("error: %v", err)
			wantNothingLeft(t, store)
			wantGoodPull(t, store, f)
		})
		t.Run(format.name+"/not tar", func(t *testing.T) {
			inner := garbage
			blob := compressBytes(t, inner, format.compress)
			f := newFakeRegistry(t)
			f.put("test/nottar", "v1", fakeLayer{blob: blob, mediaType: format.mediaType, diffID: digest.FromBytes(inner)})
			store := newStore(t)
			_, err := pullFake(t, store, f, "test/nottar:v1", image.Options{})
			wantErrorContains(t, err, digest.FromBytes(blob).String())
			t.Logf("error: %v", err)
			wantNothingLeft(t, store)
			wantGoodPull(t, store, f)
		})
	}
}

// TestPullManifestDigestMismatch serves, for a tag, a manifest other than
// the one its Docker-Content-Digest names: the pull is refused, and works
// once the registry serves the right one.
func TestPullManifestDigestMismatch(t *testing.T) {
	f := newFakeRegistry(t)
	tb := tarFile(t, "f", 100)
	d, _ := f.put("test/img", "v1", fakeLayer{blob: tb, mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(tb)})
	f.mu.Lock()
	orig := f.manifests["test/img:v1"]
	f.mu.Unlock()
	tb2 := tarFile(t, "other", 100)
	f.put("test/other", "v1", fakeLayer{blob: tb2, mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(tb2)})
	f.mu.Lock()
	other := f.manifests["test/other:v1"]
	f.mu.Unlock()
	// Whatever is asked, tag or digest, the other image's manifest comes
	// back, under this image's digest.
	swapped := fakeObject{body: other.body, contentType: other.contentType, digest: d}
	f.setManifest("test/img:v1", swapped)
	f.setManifest("test/img@"+d.String(), swapped)

	store := newStore(t)
	_, err := pullFake(t, store, f, "test/img:v1", image.Options{})
	wantErrorContains(t, err, "manifest", "does not match", d.String())
	wantNothingLeft(t, store)

	f.setManifest("test/img:v1", orig)
	f.setManifest("test/img@"+d.String(), orig)
	id, err := pullFake(t, store, f, "test/img:v1", image.Options{})
	if err != nil {
		t.Fatalf("pull once the registry serves the right manifest: %v", err)
	}
	img, err := store.Image(id)
	if err != nil || img.Digest != d {
		t.Errorf("pulled image %+v, %v; want manifest digest %s", img, err, d)
	}
}
