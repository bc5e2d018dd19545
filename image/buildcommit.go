package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image/internal/unpack"
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
		budget := unpack.NewBudget("", Options{MaxUnpackedSize: o.MaxUnpackedSize}.UnpackLimit())
		l, _, err := unpack.PutMetered(store, "", top, nil, "", false, &cstorage.LayerOptions{}, layer, budget, "")
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
	below := len(chain)
	if layer != nil {
		below--
	}
	setLayers(&cfg.Image, chain, below)
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

// Manifest formats of a built image (build --format).
const (
	// FormatDocker is Docker's schema 2, whose configuration keeps
	// HEALTHCHECK, ONBUILD and SHELL: Docker's and buildah's default.
	FormatDocker = "docker"
	// FormatOCI is the OCI image format, which has no room for them.
	FormatOCI = "oci"
)

// dockerOnly are the configuration fields of Docker's format the OCI
// format has not, with the instruction that sets each.
var dockerOnly = []struct{ field, instruction string }{
	{"Healthcheck", "HEALTHCHECK"}, {"OnBuild", "ONBUILD"}, {"Shell", "SHELL"},
}

// Reformat gives the stored image id the manifest of format. For
// FormatOCI the configuration loses Docker's extensions, as podman's
// --format oci drops them: the image is then a new one (its creation time
// kept), and dropped names the instructions whose effect is gone. It
// returns the ID of the image in the format asked for.
func Reformat(ctx context.Context, store cstorage.Store, id, format string) (newID string, dropped []string, err error) {
	switch format {
	case FormatDocker, FormatOCI:
	default:
		return "", nil, fmt.Errorf("format %q: %w: use docker or oci", format, ErrFormat)
	}
	img, err := store.Image(id)
	if err != nil {
		return "", nil, fmt.Errorf("find image %s: %w", shortID(id), err)
	}
	blob, err := store.ImageBigData(id, "sha256:"+id)
	if err != nil {
		return "", nil, fmt.Errorf("read configuration of %s: %w", shortID(id), err)
	}
	chain, err := layerChain(store, img)
	if err != nil {
		return "", nil, err
	}
	if format == FormatOCI {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(blob, &doc); err != nil {
			return "", nil, fmt.Errorf("read configuration of %s: %w", shortID(id), err)
		}
		var cfg map[string]json.RawMessage
		if raw, ok := doc["config"]; ok && json.Unmarshal(raw, &cfg) == nil {
			for _, d := range dockerOnly {
				if v, ok := cfg[d.field]; ok {
					delete(cfg, d.field)
					if string(v) != "null" {
						dropped = append(dropped, d.instruction)
					}
				}
			}
		}
		if len(dropped) > 0 {
			if doc["config"], err = json.Marshal(cfg); err != nil {
				return "", nil, err
			}
			if blob, err = json.Marshal(doc); err != nil {
				return "", nil, err
			}
			// An image of its own, with an OCI manifest, outside the
			// build's cache.
			newID, err := storeImage(store, blob, chain, img.TopLayer, nil, "", img.Created)
			return newID, dropped, err
		}
	}
	m, err := layersManifest(blob, chain, format == FormatDocker)
	if err != nil {
		return "", nil, err
	}
	if cur, err := store.ImageBigData(id, cstorage.ImageDigestBigDataKey); err == nil && bytes.Equal(cur, m) {
		return id, dropped, nil // a cached build's image, written so before
	}
	for _, key := range []string{cstorage.ImageDigestBigDataKey, cstorage.ImageDigestManifestBigDataNamePrefix + "-" + digest.FromBytes(m).String()} {
		if err := store.SetImageBigData(id, key, m, manifest.Digest); err != nil {
			return "", nil, fmt.Errorf("write manifest of %s: %w", shortID(id), err)
		}
	}
	return id, dropped, nil
}
