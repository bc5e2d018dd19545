package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
)

// StepOptions describe the image one step of a build makes.
type StepOptions struct {
	// Parent is the stored image the step starts from; empty for FROM
	// scratch.
	Parent string
	// Config is the new image's whole configuration as the build made it,
	// Docker's extensions (Healthcheck, OnBuild, Shell) included, and its
	// history without this step's entry. CommitStep fills in the layers,
	// the creation time and the entry.
	Config dockerspec.DockerOCIImage
	// History is the step's entry, nil for none (ONBUILD writes none);
	// its EmptyLayer and Created are set here.
	History *imgspecv1.History
	// Metadata is kept in the image record (the build's cache key).
	Metadata string
	// MaxUnpackedSize bounds the layer as CommitOptions.MaxUnpackedSize.
	MaxUnpackedSize int64
}

// CommitStep stores the image of one build step: the tar stream layer on
// top of o.Parent's layers or, with a nil layer, the parent's layers alone
// (a step that changed only the configuration, whose history entry is then
// an empty_layer one, as Docker writes it). It returns the image ID.
//
// The configuration is written as BuildKit writes it: OCI fields with
// Docker's extensions, so that HEALTHCHECK, ONBUILD and SHELL survive.
func CommitStep(ctx context.Context, store cstorage.Store, layer io.Reader, o StepOptions) (string, error) {
	var chain []*cstorage.Layer
	top := ""
	if o.Parent != "" {
		base, err := store.Image(o.Parent)
		if err != nil {
			return "", fmt.Errorf("find image %s: %w", shortID(o.Parent), err)
		}
		top = base.TopLayer
		if chain, err = layerChain(store, base); err != nil {
			return "", err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cleanup := func() {}
	if layer != nil {
		budget := newBudget("", Options{MaxUnpackedSize: o.MaxUnpackedSize}.maxUnpackedSize())
		l, _, err := putMetered(store, "", top, nil, "", false, &cstorage.LayerOptions{}, layer, budget, "")
		if err != nil {
			var berr *BudgetError
			if errors.As(err, &berr) {
				return "", err
			}
			return "", fmt.Errorf("store layer: %w", err)
		}
		if l.UncompressedDigest == "" {
			_ = store.DeleteLayer(l.ID)
			return "", fmt.Errorf("store layer: storage computed no digest for layer %s", shortID(l.ID))
		}
		cleanup = func() { _ = store.DeleteLayer(l.ID) }
		chain = append(chain, l)
		top = l.ID
	}

	now := time.Now().UTC()
	cfg := o.Config
	if cfg.OS == "" {
		cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	}
	cfg.Created = &now
	cfg.RootFS = imgspecv1.RootFS{Type: "layers"}
	for _, cl := range chain {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, cl.UncompressedDigest)
	}
	// A base whose history tells of fewer layers than it has gets an
	// empty entry for each one missing, so that the entries line up with
	// the layers.
	steps := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			steps++
		}
	}
	want := len(chain)
	if layer != nil {
		want--
	}
	for ; steps < want; steps++ {
		cfg.History = append(cfg.History, imgspecv1.History{})
	}
	if o.History != nil {
		h := *o.History
		h.Created = &now
		h.EmptyLayer = layer == nil
		cfg.History = append(append([]imgspecv1.History(nil), cfg.History...), h)
	}
	blob, err := json.Marshal(cfg)
	if err != nil {
		cleanup()
		return "", fmt.Errorf("encode image configuration: %w", err)
	}
	id, err := storeImage(store, blob, chain, top, nil, o.Metadata, now)
	if err != nil {
		cleanup()
		return "", err
	}
	return id, nil
}

// DockerConfig returns the configuration of a stored image with Docker's
// extensions (Healthcheck, OnBuild, Shell), which the OCI reading of
// Config drops: the configuration a build goes on from.
func DockerConfig(ctx context.Context, store cstorage.Store, id string) (*dockerspec.DockerOCIImage, error) {
	// Storage keeps the configuration blob under its digest, which is the
	// image's ID for every image pulled, loaded or built.
	if raw, err := store.ImageBigData(id, "sha256:"+id); err == nil {
		var img dockerspec.DockerOCIImage
		if err := json.Unmarshal(raw, &img); err == nil {
			return &img, nil
		}
	}
	cfg, err := Config(ctx, store, id)
	if err != nil {
		return nil, err
	}
	return &dockerspec.DockerOCIImage{Image: *cfg, Config: dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config}}, nil
}
