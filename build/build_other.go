//go:build !linux

package build

import (
	"context"
	"errors"
	"runtime"

	cstorage "go.podman.io/storage"
)

// Build needs Linux's namespaces for its RUN containers.
func Build(ctx context.Context, store cstorage.Store, o Options) (*Report, error) {
	return nil, errors.New("build: not supported on " + runtime.GOOS)
}
