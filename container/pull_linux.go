package container

import (
	"context"
	"errors"
	"fmt"

	cstorage "go.podman.io/storage"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lodger-containers/lodger/image"
)

// PullFunc pulls ref into store and returns the image's ID. Run and
// Create call it only when the image must be pulled: it is not in store
// for the platform asked (--pull missing, the default), or --pull is
// always or newer; before it, nothing of the container exists yet.
// transfer.Pull is one; the lodger binary, which does not link the
// registry client, passes one that hands the command over to
// lodger-transfer (cmd/lodger, handoff.go), so container does not import
// image/transfer either.
type PullFunc func(ctx context.Context, store cstorage.Store, ref string, o image.Options) (string, error)

// ErrNoPull says that the image must be pulled and RunOptions.PullFunc
// is nil.
var ErrNoPull = errors.New("image must be pulled and no pull was given")

// MustPull reports whether Run and Create of ref with pull policy policy
// (--pull) and o would pull: ref is not in store for the platform asked,
// or the policy is always or newer. It reads store and changes nothing.
// An error is what Run would fail with instead of pulling (a malformed
// reference, --pull never and no image).
func MustPull(ctx context.Context, store cstorage.Store, ref, policy string, o image.Options) (bool, error) {
	if err := checkPullPolicy(policy); err != nil {
		return false, err
	}
	img, _, err := findLocal(ctx, store, ref, policy, o)
	return err == nil && img == nil, err
}

// findLocal is the image Run would use without pulling and its
// configuration; nil and no error when it must be pulled.
func findLocal(ctx context.Context, store cstorage.Store, ref, policy string, o image.Options) (*cstorage.Image, *imgspecv1.Image, error) {
	if policy == PullAlways || policy == PullNewer {
		return nil, nil, nil
	}
	img, err := image.Lookup(store, ref, o)
	if err == nil {
		cfg, err := image.Config(ctx, store, img.ID)
		if err == nil && o.Matches(cfg) {
			return img, cfg, nil
		}
	} else if !errors.Is(err, image.ErrNotFound) {
		return nil, nil, err
	}
	if policy == PullNever {
		return nil, nil, fmt.Errorf("image %s (for the platform asked): %w in local storage, and --pull=never", ref, image.ErrNotFound)
	}
	return nil, nil, nil
}
