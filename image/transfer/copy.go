package transfer

import (
	"context"
	"errors"
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

// copyMetered is copy.Image into store, with every layer metered against
// an unpack budget of o's size for the image named image: name and id are
// what the storage reference is made of. The layers a failed copy made are
// deleted again (containers/image leaves them), and a budget error comes
// back as the *BudgetError, whatever containers/image wrapped it in.
func copyMetered(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, name reference.Named, id, imageName string, o image.Options, sys *types.SystemContext) ([]byte, error) {
	budget := unpack.NewBudget(imageName, o.UnpackLimit())
	bs := newBudgetStore(store, budget)
	dest, err := storageTransport.Transport.NewStoreReference(bs, name, id)
	if err != nil {
		return nil, err
	}
	blobs, stop := copyProgress(o)
	man, err := imgcopy.Image(ctx, policy, dest, src, &imgcopy.Options{ReportWriter: o.Progress, SourceCtx: sys, DestinationCtx: sys,
		Progress: blobs, ProgressInterval: copyProgressInterval})
	stop()
	if err != nil {
		bs.undo()
		if berr := budget.Failure(); berr != nil {
			return nil, berr
		}
		return nil, err
	}
	return man, nil
}
