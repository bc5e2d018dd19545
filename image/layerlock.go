package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// lockLayer takes, across the user's processes, the lock of the layer
// whose content is diffID: one process at a time downloads and unpacks
// it, and the others then find it done. Without it, fifty `run`s of an
// image not yet pulled, started at once (a compose scale, a test suite),
// each unpacked the same layers and some failed inside storage
// ("rename …/overlay-layers/tmp/…/0-addition: no such file or directory";
// TestUserNetworkParallel). The locks live in storage's run root, which
// a reboot empties; the files stay there, one per layer ever pulled since.
//
// It waits as long as the other process takes, polling so that ctx (the
// user's Ctrl-C) still ends the wait.
func lockLayer(ctx context.Context, store cstorage.Store, diffID digest.Digest) (unlock func(), err error) {
	dir := filepath.Join(store.RunRoot(), "lodger-layer-locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock layer %s: %w", diffID, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, diffID.Encoded()+".lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock layer %s: %w", diffID, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock layer %s: %w", diffID, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
