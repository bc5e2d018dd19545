package transfer

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/internal/flock"
)

// lockLayer takes, across the user's processes, the lock of the layer
// whose content is diffID: one process at a time downloads and unpacks
// it, and the others then find it done. Without it, thirty `run`s of an
// image not yet pulled, started at once (a compose scale, a test suite),
// each unpacked the same layers and some failed inside storage
// ("rename …/overlay-layers/tmp/…/0-addition: no such file or directory";
// TestRunPullsInParallel). The locks live in storage's run root, which a
// reboot empties; the files stay there, one per layer pulled since. It
// waits as long as the other process takes, and ctx (the user's Ctrl-C)
// ends the wait. (Storage has a race of its own in the same place,
// met by unpacking again: see stagingRace.)
func lockLayer(ctx context.Context, store cstorage.Store, diffID digest.Digest) (unlock func(), err error) {
	unlock, err = flock.LockContext(ctx, filepath.Join(store.RunRoot(), "lodger-layer-locks", diffID.Encoded()+".lock"))
	if err != nil {
		return nil, fmt.Errorf("lock layer %s: %w", diffID, err)
	}
	return unlock, nil
}
