package transfer

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/image"
)

func TestTagUntag(t *testing.T) {
	host := newRegistry(t)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	id, err := Pull(context.Background(), store, host+"/test/random:v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	added, err := image.Tag(store, id[:12], "example.com/a/b:x", "plain")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"example.com/a/b:x", "docker.io/library/plain:latest"}, added); diff != "" {
		t.Errorf("Tag names (-want +got):\n%s", diff)
	}
	img, err := image.Lookup(store, "plain", opts)
	if err != nil || img.ID != id {
		t.Fatalf("Lookup(plain) = %v, %v; want image %s", img, err, id)
	}
	if _, err := image.Tag(store, "missing-image", "x"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Tag of a missing image: %v, want ErrNotFound", err)
	}
	var me *image.MalformedError
	if _, err := image.Tag(store, id, "Bad/Name"); !errors.As(err, &me) {
		t.Errorf("Tag with a bad name: %v, want MalformedError", err)
	}

	removed, err := image.Untag(store, id, "plain")
	if err != nil || !slices.Equal(removed, []string{"docker.io/library/plain:latest"}) {
		t.Fatalf("Untag(plain) = %v, %v", removed, err)
	}
	if _, err := image.Untag(store, id, "plain"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Untag of a name the image lacks: %v, want ErrNotFound", err)
	}
	removed, err = image.Untag(store, id)
	if err != nil || len(removed) != 2 {
		t.Fatalf("Untag all = %v, %v; want both remaining names", removed, err)
	}
	img, err = store.Image(id)
	if err != nil || len(img.Names) != 0 {
		t.Errorf("after image.Untag all: %+v, %v; want an image with no names", img, err)
	}
}

func TestPushRoundTrip(t *testing.T) {
	host := newRegistry(t)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	ctx := context.Background()
	id, err := Pull(ctx, store, host+"/test/random:v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	target := host + "/pushed/copy:v2"
	if _, err := image.Tag(store, id, target); err != nil {
		t.Fatal(err)
	}
	d, err := Push(ctx, store, target, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if d == "" {
		t.Error("Push returned no digest")
	}
	if _, err := Push(ctx, store, id, "docker://"+host+"/pushed/other:v3", opts); err != nil {
		t.Fatalf("Push by ID to an explicit destination: %v", err)
	}

	fresh := newStore(t)
	for _, ref := range []string{target, host + "/pushed/other:v3"} {
		got, err := Pull(ctx, fresh, ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got != id {
			t.Errorf("pulled %s back as %s, want %s", ref, got, id)
		}
	}

	if _, err := Push(ctx, store, "missing-image", "", opts); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Push of a missing image: %v, want ErrNotFound", err)
	}
	if _, err := Push(ctx, store, id, "127.0.0.1:1/x/y:z", opts); err == nil {
		t.Error("Push to an unreachable registry succeeded")
	}
}
