package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/image"
)

func TestImportAndCommit(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	changes, err := image.ParseChanges([]string{`CMD ["/bin/hello"]`, "ENV A=1", "LABEL stage=base"})
	if err != nil {
		t.Fatal(err)
	}
	base, err := image.Commit(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"bin/hello": "v1", "etc/motd": "hi"})),
		image.CommitOptions{Name: "imported", Changes: changes, Comment: "Imported from -"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Lookup(store, "imported", image.Options{})
	if err != nil || img.ID != base {
		t.Fatalf("Lookup(imported) = %v, %v; want image %s", img, err, base)
	}
	// Docker's clients name an image by sha256:ID too.
	if img, err := image.Lookup(store, "sha256:"+base, image.Options{}); err != nil || img.ID != base {
		t.Errorf("Lookup(sha256:%s) = %v, %v; want the image", base, img, err)
	}
	cfg, err := image.Config(ctx, store, base)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"/bin/hello"}) || !slices.Contains(cfg.Config.Env, "A=1") ||
		cfg.Config.Labels["stage"] != "base" || len(cfg.RootFS.DiffIDs) != 1 || cfg.OS != "linux" {
		t.Errorf("imported configuration: %+v", cfg)
	}

	// A second layer on top, as commit makes it.
	top, err := image.Commit(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"bin/hello": "v2"})), image.CommitOptions{
		Base:      base,
		Name:      "example.com/app:v2",
		CreatedBy: "sh -c build",
		Comment:   "second",
		Author:    "Jane",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = image.Config(ctx, store, top)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != 2 || cfg.Author != "Jane" || !slices.Equal(cfg.Config.Cmd, []string{"/bin/hello"}) {
		t.Errorf("committed configuration: %+v", cfg)
	}
	hist, err := image.History(ctx, store, "example.com/app:v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].CreatedBy != "sh -c build" || hist[1].Comment != "second" || hist[1].ID != top || hist[1].Size == 0 {
		t.Errorf("history: %+v", hist)
	}

	// It goes out and in again like a pulled image.
	archive := filepath.Join(t.TempDir(), "a.tar")
	if err := Save(ctx, store, []string{"example.com/app:v2"}, archive, FormatDockerArchive, image.Options{}); err != nil {
		t.Fatal(err)
	}
	other := newStore(t)
	loaded, err := Load(ctx, other, archive, image.Options{})
	if err != nil || len(loaded) != 1 || loaded[0].ID != top {
		t.Fatalf("Load = %+v, %v; want image %s", loaded, err, top)
	}
	if diff := cmp.Diff(layerDiffIDs(t, store, top), layerDiffIDs(t, other, top)); diff != "" {
		t.Errorf("layers after save and load (-want +got):\n%s", diff)
	}

	// A name another image has moves to the new one.
	again, err := image.Commit(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"x": "y"})), image.CommitOptions{Name: "imported"})
	if err != nil {
		t.Fatal(err)
	}
	if img, err := store.Image(base); err != nil || len(img.Names) != 0 {
		t.Errorf("old image after its name moved: %+v, %v; want no names", img, err)
	}
	if img, err := image.Lookup(store, "imported", image.Options{}); err != nil || img.ID != again {
		t.Errorf("Lookup(imported) = %v, %v; want %s", img, err, again)
	}
}

// TestCommitLeavesNothing checks that a commit that fails writes no image
// and no layer.
func TestCommitLeavesNothing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	base, err := image.Commit(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"a": "1"})), image.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imgs, layers := counts(t, store)
	good := tarOf(t, map[string]string{"big": string(bytes.Repeat([]byte("x"), 64<<10))})
	tests := []struct {
		name  string
		layer io.Reader
		o     image.CommitOptions
	}{
		{"read error midway", io.MultiReader(bytes.NewReader(good[:20<<10]), iotest.ErrReader(errors.New("disk on fire"))), image.CommitOptions{Base: base}},
		{"truncated tar", bytes.NewReader(good[:20<<10]), image.CommitOptions{Base: base}},
		{"not a tar", bytes.NewReader(bytes.Repeat([]byte("junk"), 1000)), image.CommitOptions{}},
		{"bad name", bytes.NewReader(good), image.CommitOptions{Base: base, Name: "Bad/Name"}},
		{"missing base", bytes.NewReader(good), image.CommitOptions{Base: "0123456789ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := image.Commit(ctx, store, tt.layer, tt.o); err == nil {
				t.Fatal("Commit succeeded")
			}
			if i, l := counts(t, store); i != imgs || l != layers {
				t.Errorf("after a failed commit: %d images and %d layers, want %d and %d", i, l, imgs, layers)
			}
		})
	}
}

// TestCommitOnImageWithoutHistory commits onto a pulled image whose
// configuration has no history: the new entry still goes with the new
// layer.
func TestCommitOnImageWithoutHistory(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	store := newStore(t)
	insecure := false
	base, err := Pull(ctx, store, host+"/test/random:v1", image.Options{TLSVerify: &insecure})
	if err != nil {
		t.Fatal(err)
	}
	top, err := image.Commit(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"new": "x"})), image.CommitOptions{Base: base, CreatedBy: "step", Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := image.History(ctx, store, top)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[2].CreatedBy != "step" || hist[2].Comment != "c" || hist[0].Size == 0 || hist[1].Size == 0 {
		t.Errorf("history: %+v; want the two pulled layers, then the commit", hist)
	}
}
