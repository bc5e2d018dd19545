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

// DiskUsage needs Linux's file locks.
func DiskUsage(store cstorage.Store) (CacheUsage, error) {
	return CacheUsage{}, errors.New("build cache: not supported on " + runtime.GOOS)
}

// Prune needs Linux's file locks.
func Prune(store cstorage.Store, o PruneOptions) (PruneReport, error) {
	return PruneReport{}, errors.New("build cache: not supported on " + runtime.GOOS)
}
