package image

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestInspectReport(t *testing.T) {
	created := time.Date(2026, 12, 6, 8, 0, 0, 5, time.UTC)
	l1, l2 := digest.FromString("layer1"), digest.FromString("layer2")
	man := digest.FromString("manifest")
	cfg := &imgspecv1.Image{
		Created:  &created,
		Author:   "me",
		Platform: imgspecv1.Platform{Architecture: "arm64", OS: "linux", Variant: "v8"},
		Config: imgspecv1.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}}, Labels: map[string]string{"a": "b"}},
		RootFS:  imgspecv1.RootFS{Type: "layers", DiffIDs: []digest.Digest{l1, l2}},
		History: []imgspecv1.History{{Comment: "first"}, {Comment: "last"}},
	}
	names := []string{"docker.io/library/busybox:latest", "localhost:5000/x/y:v1", "localhost:5000/x/y@" + man.String()}
	r := inspectReport("abc", names, nil, 1234, cfg)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Id":           "sha256:abc",
		"RepoTags":     []any{"busybox:latest", "localhost:5000/x/y:v1"},
		"RepoDigests":  []any{"localhost:5000/x/y@" + man.String()},
		"Created":      "2026-12-06T08:00:00.000000005Z",
		"Author":       "me",
		"Comment":      "last",
		"Architecture": "arm64",
		"Variant":      "v8",
		"Os":           "linux",
		"Size":         float64(1234),
		"RootFS":       map[string]any{"Type": "layers", "Layers": []any{l1.String(), l2.String()}},
		"Metadata":     map[string]any{"LastTagTime": "0001-01-01T00:00:00Z"},
		"Config": map[string]any{"Cmd": []any{"sh"}, "Env": []any{"PATH=/bin"},
			"ExposedPorts": map[string]any{"80/tcp": map[string]any{}}, "Labels": map[string]any{"a": "b"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("image inspect (-want +got):\n%s", diff)
	}
	// Every digest storage knows is a digest of every repository.
	r = inspectReport("abc", names[:2], []digest.Digest{man}, 0, cfg)
	if diff := cmp.Diff([]string{"busybox@" + man.String(), "localhost:5000/x/y@" + man.String()}, r.RepoDigests); diff != "" {
		t.Errorf("RepoDigests (-want +got):\n%s", diff)
	}
}
