package image

import (
	"context"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// InspectReport is `image inspect`'s report: Docker Engine API's own
// type, so the CLI's templates and a future API socket read the same
// fields (issue 13).
type InspectReport = image.InspectResponse

// InspectImage describes a stored image found as Lookup finds it, in
// Docker's schema.
func InspectImage(ctx context.Context, store cstorage.Store, ref string) (*InspectReport, error) {
	img, err := Lookup(store, ref, Options{})
	if err != nil {
		return nil, err
	}
	cfg, err := Config(ctx, store, img.ID)
	if err != nil {
		return nil, err
	}
	size, _ := store.ImageSize(img.ID)
	digests := img.Digests
	if len(digests) == 0 && img.Digest != "" {
		digests = []digest.Digest{img.Digest}
	}
	r := inspectReport(img.ID, img.Names, digests, size, cfg)
	// Docker's extensions of the configuration (Healthcheck, OnBuild,
	// Shell), which the OCI reading drops: a build writes them.
	if dc, err := DockerConfig(ctx, store, img.ID); err == nil {
		dc.Config.ImageConfig = cfg.Config
		r.Config = &dc.Config
	}
	r.GraphDriver = &storage.DriverData{Name: store.GraphDriverName(), Data: map[string]string{}}
	return r, nil
}

// inspectReport converts what storage keeps of an image into Docker's
// schema: tags and digests by repository, the config as Docker's
// (the OCI config plus Docker's extensions), the layers' diff IDs.
func inspectReport(id string, names []string, digests []digest.Digest, size int64, cfg *imgspecv1.Image) *InspectReport {
	r := &InspectReport{
		ID:           "sha256:" + id,
		RepoTags:     []string{},
		RepoDigests:  []string{},
		Author:       cfg.Author,
		Config:       &dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config},
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		OsVersion:    cfg.OSVersion,
		Size:         size,
		RootFS:       image.RootFS{Type: cfg.RootFS.Type, Layers: []string{}},
	}
	if cfg.Created != nil {
		r.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, l := range cfg.RootFS.DiffIDs {
		r.RootFS.Layers = append(r.RootFS.Layers, l.String())
	}
	if n := len(cfg.History); n > 0 {
		r.Comment = cfg.History[n-1].Comment
	}
	seen := map[string]bool{}
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		if _, ok := named.(reference.Tagged); ok {
			r.RepoTags = append(r.RepoTags, reference.FamiliarString(named))
		}
		if c, ok := named.(reference.Canonical); ok {
			digests = append(digests, c.Digest())
		}
		repo := reference.FamiliarName(reference.TrimNamed(named))
		for _, d := range digests {
			if rd := repo + "@" + d.String(); !seen[rd] {
				seen[rd] = true
				r.RepoDigests = append(r.RepoDigests, rd)
			}
		}
	}
	return r
}
