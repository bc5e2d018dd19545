package image

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	cstorage "go.podman.io/storage"
)

// imageSet is a store with images made by Commit, oldest first:
// "base" (labelled), "mid" on it, an unnamed one on mid, "top" on that
// (so the unnamed one is intermediate), and an unnamed one of its own
// (dangling).
type imageSet struct {
	store                               cstorage.Store
	base, mid, intermediate, top, loose string
}

func newImageSet(t *testing.T) imageSet {
	t.Helper()
	s := imageSet{store: newStore(t)}
	commit := func(base, name string, changes ...string) string {
		t.Helper()
		cs, err := ParseChanges(changes)
		if err != nil {
			t.Fatal(err)
		}
		id, err := Commit(context.Background(), s.store, bytes.NewReader(tarOf(t, map[string]string{name + "-file": name})),
			CommitOptions{Base: base, Name: name, Changes: cs})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	s.base = commit("", "base", "LABEL tier=back team=a")
	s.mid = commit(s.base, "example.com/app/mid:v1", "LABEL tier=front")
	s.intermediate = commit(s.mid, "")
	s.top = commit(s.intermediate, "example.com/app/top:v1")
	s.loose = commit("", "")
	return s
}

func TestListAndFilters(t *testing.T) {
	ctx := context.Background()
	s := newImageSet(t)
	list, err := List(ctx, s.store, true)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]string{s.base: "base", s.mid: "mid", s.intermediate: "intermediate", s.top: "top", s.loose: "loose"}
	var order []string
	for _, img := range list {
		order = append(order, named[img.ID])
	}
	if diff := cmp.Diff([]string{"loose", "top", "intermediate", "mid", "base"}, order); diff != "" {
		t.Errorf("List order, newest first (-want +got):\n%s", diff)
	}
	kinds := map[string][2]bool{}
	for _, img := range list {
		kinds[named[img.ID]] = [2]bool{img.Dangling(), img.Intermediate()}
	}
	if diff := cmp.Diff(map[string][2]bool{"base": {}, "mid": {}, "top": {}, "intermediate": {true, true}, "loose": {true, false}}, kinds); diff != "" {
		t.Errorf("dangling and intermediate (-want +got):\n%s", diff)
	}

	tests := []struct {
		filters []string
		want    []string
	}{
		{nil, []string{"loose", "top", "intermediate", "mid", "base"}},
		{[]string{"dangling=true"}, []string{"loose", "intermediate"}},
		{[]string{"dangling=false"}, []string{"top", "mid", "base"}},
		{[]string{"reference=base"}, []string{"base"}},
		{[]string{"reference=docker.io/library/base:latest"}, []string{"base"}},
		{[]string{"reference=example.com/app/*"}, []string{"top", "mid"}},
		{[]string{"reference=example.com/app/*:v1"}, []string{"top", "mid"}},
		{[]string{"reference=example.com/*"}, nil},
		{[]string{"reference=*top*", "reference=base"}, []string{"base"}},
		{[]string{"reference=example.com/app/top", "reference=base"}, []string{"top", "base"}},
		{[]string{"label=tier"}, []string{"top", "intermediate", "mid", "base"}},
		{[]string{"label=tier=front"}, []string{"top", "intermediate", "mid"}},
		{[]string{"label=tier=front", "label=team=a"}, []string{"top", "intermediate", "mid"}},
		{[]string{"label=tier=back"}, []string{"base"}},
		{[]string{"before=example.com/app/top:v1"}, []string{"intermediate", "mid", "base"}},
		{[]string{"since=base"}, []string{"loose", "top", "intermediate", "mid"}},
		{[]string{"since=base", "before=" + s.intermediate[:12]}, []string{"mid"}},
		{[]string{"since=base", "dangling=true", "label=tier"}, []string{"intermediate"}},
	}
	for _, tt := range tests {
		f, err := ParseImageFilters(tt.filters)
		if err != nil {
			t.Fatalf("ParseImageFilters(%q): %v", tt.filters, err)
		}
		if err := f.Resolve(s.store); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, img := range list {
			if _, ok := f.Match(img); ok {
				got = append(got, named[img.ID])
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("filters %q (-want +got):\n%s", tt.filters, diff)
		}
	}

	// A reference filter shows the names it matched only.
	if _, err := Tag(s.store, s.top, "other/name:x"); err != nil {
		t.Fatal(err)
	}
	f, _ := ParseImageFilters([]string{"reference=other/*"})
	img, _ := s.store.Image(s.top)
	if names, ok := f.Match(Summary{ID: img.ID, Names: img.Names}); !ok || !slices.Equal(names, []string{"docker.io/other/name:x"}) {
		t.Errorf("Match names = %v, %v; want the matching name only", names, ok)
	}
}

func TestImageFilterErrors(t *testing.T) {
	s := newImageSet(t)
	for _, bad := range []string{"dangling", "dangling=maybe", "bogus=1", "label=", "label==x", "before=", "since=", "reference=", "reference=[", "id=1"} {
		if _, err := ParseImageFilters([]string{bad}); err == nil {
			t.Errorf("ParseImageFilters(%q) accepted", bad)
		}
	}
	if _, err := ParseImageFilters([]string{"dangling=true", "dangling=false"}); err == nil {
		t.Error("dangling true and false accepted together")
	}
	f, err := ParseImageFilters([]string{"before=no-such-image"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Resolve(s.store); err == nil {
		t.Error("before= a missing image resolved")
	}
}

// names lists the images of store by the names s gave them.
func (s imageSet) names(t *testing.T) []string {
	t.Helper()
	named := map[string]string{s.base: "base", s.mid: "mid", s.intermediate: "intermediate", s.top: "top", s.loose: "loose"}
	imgs, err := s.store.Images()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, img := range imgs {
		out = append(out, named[img.ID])
	}
	slices.Sort(out)
	return out
}

func TestPrune(t *testing.T) {
	s := newImageSet(t)
	rep, err := Prune(context.Background(), s.store, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"deleted: sha256:" + s.loose}, rep.Removed); diff != "" {
		t.Errorf("Prune(false) removed (-want +got):\n%s", diff)
	}
	if rep.Reclaimed <= 0 {
		t.Errorf("Prune(false) reclaimed %d bytes", rep.Reclaimed)
	}
	if diff := cmp.Diff([]string{"base", "intermediate", "mid", "top"}, s.names(t)); diff != "" {
		t.Errorf("images after Prune(false) (-want +got):\n%s", diff)
	}

	// Untagging top makes it dangling; its unnamed parent goes with it.
	if _, err := Untag(s.store, s.top); err != nil {
		t.Fatal(err)
	}
	if _, err := Prune(context.Background(), s.store, PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"base", "mid"}, s.names(t)); diff != "" {
		t.Errorf("images after untag and Prune(false) (-want +got):\n%s", diff)
	}

	// With all, every image no container uses goes, but not the parent
	// of one a container uses.
	if _, err := s.store.CreateContainer("", nil, s.mid, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err = Prune(context.Background(), s.store, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 0 {
		t.Errorf("Prune(true) with mid in use removed %v", rep.Removed)
	}
	u, err := DiskUsage(s.store)
	if err != nil {
		t.Fatal(err)
	}
	if u.Total != 2 || u.Active != 1 || u.Size <= 0 || u.Reclaimable != 0 {
		t.Errorf("DiskUsage = %+v; want 2 images, 1 active, nothing reclaimable", u)
	}
	ctrs, _ := s.store.Containers()
	if err := s.store.DeleteContainer(ctrs[0].ID); err != nil {
		t.Fatal(err)
	}
	if u, err = DiskUsage(s.store); err != nil || u.Active != 0 || u.Reclaimable != u.Size {
		t.Errorf("DiskUsage without containers = %+v, %v; want everything reclaimable", u, err)
	}
	rep, err = Prune(context.Background(), s.store, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"untagged: example.com/app/mid:v1", "deleted: sha256:" + s.mid, "untagged: docker.io/library/base:latest", "deleted: sha256:" + s.base}
	if diff := cmp.Diff(want, rep.Removed); diff != "" {
		t.Errorf("Prune(true) removed (-want +got):\n%s", diff)
	}
	if i, l := counts(t, s.store); i != 0 || l != 0 {
		t.Errorf("after Prune(true): %d images, %d layers left", i, l)
	}
}

// TestDiskUsageSharedSizes: each image's layers and the part of them
// another image has too (Docker's Size and SharedSize for system df).
// base's layer is in base, mid, intermediate and top: shared by all
// four; top's own layer is top's alone; loose shares nothing.
func TestDiskUsageSharedSizes(t *testing.T) {
	s := newImageSet(t)
	u, err := DiskUsage(s.store)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := s.store.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, l := range layers {
		sum += l.UncompressedSize
	}
	if u.Size != sum {
		t.Errorf("Size = %d; want every layer once, %d", u.Size, sum)
	}
	top, base, loose := u.Images[s.top], u.Images[s.base], u.Images[s.loose]
	if base.Layers <= 0 || base.Shared != base.Layers {
		t.Errorf("base = %+v; want its one layer, shared", base)
	}
	if top.Layers <= top.Shared || top.Shared <= base.Layers {
		t.Errorf("top = %+v; want base's, mid's and intermediate's layers shared and its own not", top)
	}
	if loose.Layers <= 0 || loose.Shared != 0 {
		t.Errorf("loose = %+v; want its layer and nothing shared", loose)
	}
}
