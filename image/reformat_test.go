package image

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// TestReformat: a build step's image gets Docker's manifest, or OCI's with
// Docker's extensions dropped (a new image, the layers shared).
func TestReformat(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	cfg := dockerspec.DockerOCIImage{}
	cfg.Config.Cmd = []string{"sh"}
	cfg.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"}}
	cfg.Config.Shell = []string{"/bin/sh", "-ec"}
	id, err := CommitStep(ctx, store, bytes.NewReader(tarOf(t, map[string]string{"f": "x"})), StepOptions{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	mediaType := func(id string) string {
		t.Helper()
		b, err := store.ImageBigData(id, cstorage.ImageDigestBigDataKey)
		if err != nil {
			t.Fatal(err)
		}
		return manifest.GuessMIMEType(b)
	}
	if got := mediaType(id); got != imgspecv1.MediaTypeImageManifest {
		t.Errorf("a step's manifest is %s, want OCI's", got)
	}
	did, dropped, err := Reformat(ctx, store, id, FormatDocker)
	if err != nil || did != id || len(dropped) != 0 {
		t.Fatalf("Reformat docker: %s %v %v, want the same image", did, dropped, err)
	}
	if got := mediaType(id); got != manifest.DockerV2Schema2MediaType {
		t.Errorf("docker format: manifest %s", got)
	}
	oid, dropped, err := Reformat(ctx, store, id, FormatOCI)
	if err != nil {
		t.Fatal(err)
	}
	if oid == id || len(dropped) != 2 || dropped[0] != "HEALTHCHECK" || dropped[1] != "SHELL" {
		t.Errorf("Reformat oci: %s (was %s), dropped %v; want a new image without HEALTHCHECK and SHELL", oid, id, dropped)
	}
	if got := mediaType(oid); got != imgspecv1.MediaTypeImageManifest {
		t.Errorf("oci format: manifest %s", got)
	}
	c, err := DockerConfig(ctx, store, oid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Healthcheck != nil || c.Config.Shell != nil || len(c.Config.Cmd) != 1 {
		b, _ := json.Marshal(c.Config)
		t.Errorf("oci config %s: want Cmd kept, Healthcheck and Shell gone", b)
	}
	a, _ := store.Image(id)
	b, _ := store.Image(oid)
	if a.TopLayer != b.TopLayer {
		t.Errorf("the OCI image has top layer %s, the step %s: want them shared", b.TopLayer, a.TopLayer)
	}
	if _, _, err := Reformat(ctx, store, id, "v1"); err == nil {
		t.Error("Reformat v1: no error")
	}
}
