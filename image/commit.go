package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image/internal/unpack"
)

// CommitOptions describe an image Commit makes from one new layer.
type CommitOptions struct {
	// Base is the ID of the stored image the layer goes on top of, whose
	// configuration the new image starts from; empty makes an image of
	// the one layer (import).
	Base string
	// Name names the new image; empty leaves it without one, as docker
	// commit does. A name another image has moves to the new one.
	Name string
	// Config adjusts the configuration before Changes: commit carries the
	// container's command and labels there.
	Config func(*imgspecv1.ImageConfig)
	// Changes are the --change instructions, applied in order.
	Changes []Change
	// The new history entry: CreatedBy, Comment (-m) and Author (-a,
	// also the image's author).
	CreatedBy string
	Comment   string
	Author    string
	// MaxUnpackedSize bounds what the layer may unpack to, as
	// Options.MaxUnpackedSize does for a pull; zero means
	// DefaultMaxUnpackedSize.
	MaxUnpackedSize int64
}

// Commit stores the tar stream layer (compressed or not, with overlay or
// AUFS whiteouts) as a new layer on o.Base and makes an image of it, with
// an OCI manifest and configuration as c/image would have written them,
// so that push, save and run treat it as any pulled image. It returns the
// image ID, the digest of the configuration.
//
// Nothing is left half-written: storage removes a layer whose stream
// fails, and the layer goes again when the image record cannot be made.
func Commit(ctx context.Context, store cstorage.Store, layer io.Reader, o CommitOptions) (string, error) {
	var names []string
	if o.Name != "" {
		named, err := reference.ParseNormalizedNamed(o.Name)
		if err != nil {
			return "", &MalformedError{Ref: o.Name, Err: err}
		}
		if _, ok := named.(reference.Digested); ok {
			return "", &MalformedError{Ref: o.Name, Err: errors.New("a new image cannot be named by digest")}
		}
		names = []string{reference.TagNameOnly(named).String()}
	}
	cfg := &imgspecv1.Image{
		Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		RootFS:   imgspecv1.RootFS{Type: "layers"},
	}
	var parent string
	var chain []*cstorage.Layer // the base's layers, bottom first
	if o.Base != "" {
		base, err := store.Image(o.Base)
		if err != nil {
			return "", fmt.Errorf("find image %s: %w", shortID(o.Base), err)
		}
		if cfg, err = Config(ctx, store, base.ID); err != nil {
			return "", err
		}
		parent = base.TopLayer
		if chain, err = layerChain(store, base); err != nil {
			return "", err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	// The tar stream is metered as a pulled layer is: an imported tarball
	// is as untrusted as any image (issue 12, finding 4).
	budget := unpack.NewBudget("", Options{MaxUnpackedSize: o.MaxUnpackedSize}.UnpackLimit())
	l, _, err := unpack.PutMetered(store, "", parent, nil, "", false, &cstorage.LayerOptions{}, layer, budget, "")
	if err != nil {
		var berr *BudgetError
		if errors.As(err, &berr) {
			return "", err
		}
		return "", fmt.Errorf("store layer: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = store.DeleteLayer(l.ID)
		}
	}()
	if l.UncompressedDigest == "" {
		return "", fmt.Errorf("store layer: storage computed no digest for layer %s", shortID(l.ID))
	}
	chain = append(chain, l)

	now := time.Now().UTC()
	cfg.Created = &now
	if o.Author != "" {
		cfg.Author = o.Author
	}
	if o.Config != nil {
		o.Config(&cfg.Config)
	}
	ApplyChanges(&cfg.Config, o.Changes)
	setLayers(cfg, chain, len(chain)-1)
	cfg.History = append(cfg.History, imgspecv1.History{Created: &now, CreatedBy: o.CreatedBy, Author: o.Author, Comment: o.Comment})
	configBlob, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode image configuration: %w", err)
	}
	id, err := storeImage(store, configBlob, chain, l.ID, names, "", now)
	if err != nil {
		return "", err
	}
	ok = true
	return id, nil
}

// setLayers makes cfg's rootfs the layers of chain (bottom first), and
// pads its history to tell of the below layers under the new one: a base
// whose history tells of fewer layers than it has (none, for many images)
// gets an empty entry for each one missing, so that the entry appended
// next is the new layer's.
func setLayers(cfg *imgspecv1.Image, chain []*cstorage.Layer, below int) {
	cfg.RootFS = imgspecv1.RootFS{Type: "layers"}
	for _, cl := range chain {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, cl.UncompressedDigest)
	}
	steps := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			steps++
		}
	}
	for ; steps < below; steps++ {
		cfg.History = append(cfg.History, imgspecv1.History{})
	}
}

// storeImage makes the image record of configBlob over the layers chain
// (bottom first; top is the last one's ID, or "" for none), with an OCI
// manifest as c/image would have written it, so that push, save and run
// treat it as any pulled image, and names moved to it. It returns the
// image ID, the digest of the configuration.
func storeImage(store cstorage.Store, configBlob []byte, chain []*cstorage.Layer, top string, names []string, metadata string, now time.Time) (string, error) {
	configDigest := digest.FromBytes(configBlob)
	manifestBlob, err := layersManifest(configBlob, chain, false)
	if err != nil {
		return "", err
	}
	manifestDigest := digest.FromBytes(manifestBlob)

	id := configDigest.Encoded()
	// Created without names, which storage refuses when another image
	// has them; AddNames then moves them, as tag does.
	_, err = store.CreateImage(id, nil, top, metadata, &cstorage.ImageOptions{
		CreationDate: now,
		Digest:       manifestDigest,
		BigData: []cstorage.ImageBigDataOption{
			{Key: configDigest.String(), Data: configBlob, Digest: configDigest},
			// The keys c/image reads a stored image's manifest under.
			{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + manifestDigest.String(), Data: manifestBlob, Digest: manifestDigest},
			{Key: cstorage.ImageDigestBigDataKey, Data: manifestBlob, Digest: manifestDigest},
		},
	})
	if errors.Is(err, cstorage.ErrDuplicateID) {
		// The same configuration over the same layers: the image exists.
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("create image: %w", err)
	}
	if len(names) > 0 {
		if err := store.AddNames(id, names); err != nil {
			_, _ = store.DeleteImage(id, true) // and the layer with it
			return "", fmt.Errorf("name image %s: %w", shortID(id), err)
		}
	}
	return id, nil
}

// layersManifest is the manifest of an image of configBlob over chain,
// OCI's or, with docker, Docker's schema 2. The layers are listed
// uncompressed, by the digests storage knows them by, as buildah does
// for the images it commits; a push compresses them.
func layersManifest(configBlob []byte, chain []*cstorage.Layer, docker bool) ([]byte, error) {
	configDigest := digest.FromBytes(configBlob)
	var m any
	if docker {
		dm := manifest.Schema2{
			SchemaVersion: 2,
			MediaType:     manifest.DockerV2Schema2MediaType,
			ConfigDescriptor: manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType,
				Digest: configDigest, Size: int64(len(configBlob))},
		}
		for _, cl := range chain {
			dm.LayersDescriptors = append(dm.LayersDescriptors, manifest.Schema2Descriptor{MediaType: manifest.DockerV2SchemaLayerMediaTypeUncompressed,
				Digest: cl.UncompressedDigest, Size: cl.UncompressedSize})
		}
		m = dm
	} else {
		om := imgspecv1.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: imgspecv1.MediaTypeImageManifest,
			Config:    imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: configDigest, Size: int64(len(configBlob))},
		}
		for _, cl := range chain {
			om.Layers = append(om.Layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayer, Digest: cl.UncompressedDigest, Size: cl.UncompressedSize})
		}
		m = om
	}
	blob, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode image manifest: %w", err)
	}
	return blob, nil
}

// layerChain is img's layers, base first.
func layerChain(store cstorage.Store, img *cstorage.Image) ([]*cstorage.Layer, error) {
	var chain []*cstorage.Layer
	for id := img.TopLayer; id != ""; {
		l, err := store.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("read layer %s of image %s: %w", shortID(id), shortID(img.ID), err)
		}
		chain = append([]*cstorage.Layer{l}, chain...)
		id = l.Parent
	}
	return chain, nil
}
