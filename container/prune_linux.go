package container

import (
	"context"
	"errors"
	"fmt"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/internal/prunefilter"
)

// PruneReport is what Prune removed.
type PruneReport struct {
	Removed   []string // full container IDs
	Reclaimed int64    // bytes of the removed containers' layers and files
}

// Prune removes every container that is not running (created or exited)
// and that f selects (its labels and creation time), as `docker
// container prune` does, and the layers of containers whose creation was
// cut short (sweepOrphanLayers). Like rm, it leaves volumes alone. A
// container that starts meanwhile is kept: Remove checks again.
func Prune(ctx context.Context, store cstorage.Store, f prunefilter.Filter) (PruneReport, error) {
	var rep PruneReport
	infos, err := List(store)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, in := range infos {
		if in.State.Status == monitor.StatusRunning || !f.Match(in.Metadata.Created, in.Metadata.Labels) {
			continue
		}
		size, _ := store.ContainerSize(in.ID)
		if err := Remove(ctx, store, in.ID, false); err != nil {
			if !errors.Is(err, cstorage.ErrContainerUnknown) { // gone already (a --rm monitor)
				errs = append(errs, err)
			}
			continue
		}
		rep.Removed = append(rep.Removed, in.ID)
		rep.Reclaimed += size
	}
	n, err := sweepOrphanLayers(store)
	rep.Reclaimed += n
	errs = append(errs, err)
	return rep, errors.Join(errs...)
}

// sweepOrphanLayers removes the container layers no container names: what
// a create killed between storage's two writes (the layer, then the
// container's record) leaves behind, which no listing shows. A container
// layer is one without content of its own (no diff digest: image layers
// have one), that no container, image or other layer uses. It cannot be
// one being made: storage holds its layer lock from a container's layer
// to its record, and Layers waits for that lock; the containers are read
// after it.
func sweepOrphanLayers(store cstorage.Store) (int64, error) {
	layers, err := store.Layers()
	if err != nil {
		return 0, err
	}
	ctrs, err := store.Containers()
	if err != nil {
		return 0, err
	}
	imgs, err := store.Images()
	if err != nil {
		return 0, err
	}
	used := map[string]bool{}
	for _, c := range ctrs {
		used[c.LayerID] = true
	}
	for _, img := range imgs {
		used[img.TopLayer] = true
		for _, l := range img.MappedTopLayers {
			used[l] = true
		}
	}
	for _, l := range layers {
		used[l.Parent] = true
	}
	var reclaimed int64
	var errs []error
	for _, l := range layers {
		if used[l.ID] || l.UncompressedDigest != "" || l.CompressedDigest != "" {
			continue
		}
		size, _ := store.DiffSize("", l.ID)
		if err := store.DeleteLayer(l.ID); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
			errs = append(errs, fmt.Errorf("remove layer %.12s of no container: %w", l.ID, err))
			continue
		}
		reclaimed += max(size, 0)
	}
	return reclaimed, errors.Join(errs...)
}
