package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	imgcopy "go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	storageTransport "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/internal/unpack"
)

// budgetStore is the store containers/image writes an image into on the
// paths that do not stream (copy.Image): every layer it puts is
// decompressed here and handed to storage through a layerMeter, and the
// layers it made are deleted again when the copy fails.
type budgetStore struct {
	cstorage.Store
	budget *unpack.Budget

	mu      sync.Mutex
	created []string // layers made, in order
}

func newBudgetStore(store cstorage.Store, budget *unpack.Budget) *budgetStore {
	return &budgetStore{Store: store, budget: budget}
}

// PutLayer meters diff, which containers/image gives compressed or not.
func (s *budgetStore) PutLayer(id, parent string, names []string, mountLabel string, writeable bool, options *cstorage.LayerOptions, diff io.Reader) (*cstorage.Layer, int64, error) {
	if diff == nil {
		return s.Store.PutLayer(id, parent, names, mountLabel, writeable, options, diff)
	}
	var layer digest.Digest
	var opts cstorage.LayerOptions
	if options != nil {
		opts = *options
		layer = opts.OriginalDigest
		if layer == "" {
			layer = opts.UncompressedDigest
		}
	}
	l, n, err := unpack.PutMetered(s.Store, id, parent, names, mountLabel, writeable, &opts, diff, s.budget, layer)
	if err == nil {
		s.mu.Lock()
		s.created = append(s.created, l.ID)
		s.mu.Unlock()
	}
	return l, n, err
}

// PullOptions turn partial pulls off: a partially pulled layer
// (zstd:chunked, eStargz) is written by storage's differ, not from a tar
// stream that could be metered.
func (s *budgetStore) PullOptions() map[string]string {
	o := map[string]string{}
	for k, v := range s.Store.PullOptions() {
		o[k] = v
	}
	o["enable_partial_images"] = "false"
	return o
}

// ApplyStagedLayer refuses: nothing is staged with partial pulls off.
func (s *budgetStore) ApplyStagedLayer(args cstorage.ApplyStagedLayerOptions) (*cstorage.Layer, error) {
	return nil, errors.New("staged layers bypass the unpack budget")
}

// undo deletes the layers this copy made, newest first. One that another
// image uses or builds on meanwhile is kept: storage refuses to delete it.
func (s *budgetStore) undo() {
	s.mu.Lock()
	created := s.created
	s.created = nil
	s.mu.Unlock()
	for i := len(created) - 1; i >= 0; i-- {
		_ = s.Store.DeleteLayer(created[i])
	}
}

// afterCopy, when set, runs as soon as copy.Image has stored an image:
// the tests move the image's name there, as a concurrent pull or tag of
// the same name by another lodger process may.
var afterCopy func()

// copyMetered is copy.Image into store, with every layer metered against
// an unpack budget of o's size for the image named image: name and id are
// what the storage reference is made of. It returns the ID of the image
// the copy stored. The layers a failed copy made are deleted again
// (containers/image leaves them), and a budget error comes back as the
// *BudgetError, whatever containers/image wrapped it in.
func copyMetered(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, name reference.Named, id, imageName string, o image.Options, sys *types.SystemContext) (string, error) {
	if name == nil && id == "" {
		// Storage needs one or the other to make a reference.
		return "", fmt.Errorf("%w: a schema 1 image, with no config digest to take its ID from, and no name to store it under; convert it to schema 2 or OCI first", image.ErrFormat)
	}
	budget := unpack.NewBudget(imageName, o.UnpackLimit())
	bs := newBudgetStore(store, budget)
	dest, err := storageTransport.Transport.NewStoreReference(bs, name, id)
	if err != nil {
		return "", err
	}
	blobs, stop := copyProgress(o)
	// The ID comes from the copy itself: by name, the image could be
	// another one by now, when another lodger process pulled, tagged or
	// loaded the same name meanwhile (issue 14). Storage reports the ID
	// it stored the image under: for a manifest list the chosen
	// instance's, for schema 1 the one it made up from the manifest.
	var stored types.ImageReference
	_, err = imgcopy.Image(ctx, policy, dest, src, &imgcopy.Options{ReportWriter: o.Progress, SourceCtx: sys, DestinationCtx: sys,
		Progress: blobs, ProgressInterval: copyProgressInterval, ReportResolvedReference: &stored})
	stop()
	if err != nil {
		bs.undo()
		if berr := budget.Failure(); berr != nil {
			return "", berr
		}
		return "", err
	}
	if afterCopy != nil {
		afterCopy()
	}
	if stored == nil {
		return "", errors.New("find stored image: storage reported no image")
	}
	// stored carries the image's ID and, in this version of
	// containers/image, no name: resolving it reads the image by ID.
	_, img, err := storageTransport.ResolveReference(stored)
	if err != nil {
		return "", fmt.Errorf("find stored image: %w", err)
	}
	return img.ID, nil
}

// configID is the ID storage gives img when it has a config, its config
// digest; "" for a schema 1 image, which has none: storage then makes one
// up, and copyMetered reports it.
func configID(img types.Image) string {
	if d := img.ConfigInfo().Digest; d != "" {
		return d.Encoded()
	}
	return ""
}
