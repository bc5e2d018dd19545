package container

import (
	"context"
	"errors"

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
// container prune` does. Like rm, it leaves volumes alone. A container
// that starts meanwhile is kept: Remove checks again.
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
	return rep, errors.Join(errs...)
}
