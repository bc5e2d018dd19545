package transfer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// twoImages pulls two different random images into a fresh store.
func twoImages(t *testing.T) (cstorage.Store, string, string, string) {
	t.Helper()
	host := newRegistry(t)
	pushRandom(t, host+"/test/second:v1", 512, 1)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	id1, err := Pull(context.Background(), store, host+"/test/random:v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := Pull(context.Background(), store, host+"/test/second:v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	return store, host, id1, id2
}

// layerDiffIDs are the uncompressed digests of an image's layers.
func layerDiffIDs(t *testing.T, store cstorage.Store, id string) []string {
	t.Helper()
	cfg, err := image.Config(context.Background(), store, id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range cfg.RootFS.DiffIDs {
		ids = append(ids, d.String())
	}
	return ids
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		t.Run(format, func(t *testing.T) {
			store, host, id, _ := twoImages(t)
			wantLayers := layerDiffIDs(t, store, id)
			path := filepath.Join(t.TempDir(), "image.tar")
			if err := Save(ctx, store, []string{host + "/test/random:v1"}, path, format, image.Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.DeleteImage(id, true); err != nil {
				t.Fatal(err)
			}
			loaded, err := Load(ctx, store, path, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := []LoadedImage{{ID: id, Names: []string{host + "/test/random:v1"}}}
			if format == FormatOCIArchive && len(loaded) == 1 {
				// The Docker config is re-encoded for OCI: a new ID.
				id = loaded[0].ID
				want[0].ID = id
			}
			if diff := cmp.Diff(want, loaded); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantLayers, layerDiffIDs(t, store, id)); diff != "" {
				t.Errorf("layer digests after load (-want +got):\n%s", diff)
			}
			img, err := image.Lookup(store, host+"/test/random:v1", image.Options{})
			if err != nil || img.ID != id {
				t.Errorf("Lookup after load = %v, %v; want %s", img, err, id)
			}
		})
	}
}

func TestSaveSeveralImages(t *testing.T) {
	ctx := context.Background()
	store, host, id1, id2 := twoImages(t)
	var buf bytes.Buffer
	if err := SaveTo(ctx, store, []string{host + "/test/random:v1", id2}, &buf, "", image.Options{}); err != nil {
		t.Fatal(err)
	}
	fresh := newStore(t)
	loaded, err := LoadFrom(ctx, fresh, &buf, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The second image was saved by ID, so it comes back without a name,
	// as with docker save.
	want := []LoadedImage{{ID: id1, Names: []string{host + "/test/random:v1"}}, {ID: id2}}
	if diff := cmp.Diff(want, loaded); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	for _, id := range []string{id1, id2} {
		if _, err := fresh.Image(id); err != nil {
			t.Errorf("image %s missing after load: %v", id, err)
		}
	}
}

func TestSaveOCIDir(t *testing.T) {
	ctx := context.Background()
	store, host, id1, id2 := twoImages(t)
	dir := filepath.Join(t.TempDir(), "layout")
	if err := Save(ctx, store, []string{host + "/test/random:v1", host + "/test/second:v1"}, dir, FormatOCIDir, image.Options{}); err != nil {
		t.Fatal(err)
	}
	fresh := newStore(t)
	for _, c := range []struct{ name, id string }{{"random", id1}, {"second", id2}} {
		got, err := Pull(ctx, fresh, "oci:"+dir+":"+host+"/test/"+c.name+":v1", image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(layerDiffIDs(t, store, c.id), layerDiffIDs(t, fresh, got)); diff != "" {
			t.Errorf("%s: layers from the layout (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestSaveLoadErrors(t *testing.T) {
	ctx := context.Background()
	store, host, id1, id2 := twoImages(t)
	dir := t.TempDir()
	err := Save(ctx, store, []string{id1, id2}, filepath.Join(dir, "x.tar"), FormatOCIArchive, image.Options{})
	if !errors.Is(err, image.ErrFormat) {
		t.Errorf("two images in an oci-archive: %v, want image.ErrFormat", err)
	}
	if err := Save(ctx, store, []string{id1}, filepath.Join(dir, "x.tar"), "zip", image.Options{}); !errors.Is(err, image.ErrFormat) {
		t.Errorf("unknown format: %v, want image.ErrFormat", err)
	}
	if err := Save(ctx, store, []string{host + "/test/none:v1"}, filepath.Join(dir, "x.tar"), "", image.Options{}); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("missing image: %v, want ErrNotFound", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("failed saves left %v behind", entries)
	}
	junk := filepath.Join(dir, "junk.tar")
	if err := os.WriteFile(junk, []byte("not an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, store, junk, image.Options{}); err == nil {
		t.Error("Load of a non-archive succeeded")
	}
	if _, err := Load(ctx, store, filepath.Join(dir, "missing.tar"), image.Options{}); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestHistory(t *testing.T) {
	store, host, id, _ := twoImages(t)
	hist, err := image.History(context.Background(), store, host+"/test/random:v1")
	if err != nil {
		t.Fatal(err)
	}
	// random images carry no history, so there is one entry per layer.
	if len(hist) != 2 {
		t.Fatalf("History = %+v, want 2 entries", hist)
	}
	if hist[1].ID != id || hist[0].ID != "<missing>" {
		t.Errorf("History IDs = %s, %s; want <missing>, %s", hist[0].ID, hist[1].ID, id)
	}
	if !slices.ContainsFunc(hist, func(h image.HistoryEntry) bool { return h.Size > 0 }) {
		t.Errorf("History = %+v, want layer sizes", hist)
	}
	if _, err := image.History(context.Background(), store, "missing-image"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("History of a missing image: %v, want ErrNotFound", err)
	}
}
