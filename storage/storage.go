// Package storage wires go.podman.io/storage for lodger: where images,
// layers and containers live, which graph driver holds them, and the
// lifecycle of a container's root filesystem.
//
// All of it runs inside the session user namespace, so layer files carry the
// mapped owners and no id mapping is needed at this level.
package storage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"

	"github.com/lodger-containers/lodger/config"
	"github.com/lodger-containers/lodger/rootless"
)

// Drivers lodger knows by name. fuse-overlayfs is the overlay driver with
// fuse-overlayfs as its mount program.
const (
	DriverOverlay = "overlay"
	DriverFuse    = "fuse-overlayfs"
	DriverVFS     = "vfs"
)

// Options say where the store lives and which driver it uses. An empty
// Driver means automatic: native overlay, else fuse-overlayfs when
// installed, else vfs.
type Options struct {
	GraphRoot string
	RunRoot   string
	Driver    string
}

// DefaultOptions applies lodger.toml over the design's defaults.
func DefaultOptions() (Options, error) {
	cfg, err := config.Load()
	if err != nil {
		return Options{}, err
	}
	o := Options{
		GraphRoot: filepath.Join(config.DataDir(), "storage"),
		RunRoot:   filepath.Join(rootless.RunDir(), "storage"),
		Driver:    cfg.Storage.Driver,
	}
	if cfg.Storage.GraphRoot != "" {
		o.GraphRoot = cfg.Storage.GraphRoot
	}
	return o, nil
}

// Open returns the store, choosing the driver when Options leave it open.
// The choice sticks: a graph root that already holds a driver's data keeps
// that driver.
func Open(o Options) (cstorage.Store, error) {
	if err := os.MkdirAll(o.GraphRoot, 0o700); err != nil {
		return nil, fmt.Errorf("create graph root: %w", err)
	}
	driver := o.Driver
	if driver == "" {
		driver = priorDriver(o.GraphRoot)
	}
	if driver != "" {
		s, err := open(o, driver)
		if err != nil {
			return nil, fmt.Errorf("open storage with driver %s: %w", driver, err)
		}
		return s, nil
	}
	var errs []error
	for _, d := range []string{DriverOverlay, DriverFuse, DriverVFS} {
		if d == DriverFuse {
			if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
				continue
			}
		}
		s, err := open(o, d)
		if err == nil {
			return s, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", d, err))
	}
	return nil, fmt.Errorf("open storage: no usable driver: %w", errors.Join(errs...))
}

// priorDriver names the driver whose data the graph root already holds.
func priorDriver(graphRoot string) string {
	if _, err := os.Stat(filepath.Join(graphRoot, "overlay", ".fuse")); err == nil {
		return DriverFuse
	}
	for _, d := range []string{DriverOverlay, DriverVFS} {
		if _, err := os.Stat(filepath.Join(graphRoot, d+"-layers")); err == nil {
			return d
		}
	}
	return ""
}

func open(o Options, driver string) (cstorage.Store, error) {
	so := types.StoreOptions{
		GraphRoot:       o.GraphRoot,
		RunRoot:         o.RunRoot,
		GraphDriverName: driver,
	}
	switch driver {
	case DriverOverlay:
		so.GraphDriverOptions = []string{"overlay.mountopt=nodev"}
	case DriverFuse:
		fuse, err := exec.LookPath("fuse-overlayfs")
		if err != nil {
			return nil, fmt.Errorf("fuse-overlayfs not found: install the fuse-overlayfs package")
		}
		so.GraphDriverName = DriverOverlay
		so.GraphDriverOptions = []string{"overlay.mount_program=" + fuse, "overlay.mountopt=nodev"}
	case DriverVFS:
	default:
		return nil, fmt.Errorf("unknown storage driver %q: use overlay, fuse-overlayfs or vfs", driver)
	}
	s, err := cstorage.GetStore(so)
	if err != nil {
		return nil, err
	}
	if driver == DriverFuse {
		_ = os.WriteFile(filepath.Join(o.GraphRoot, "overlay", ".fuse"), nil, 0o600)
	}
	return s, nil
}

// DriverName is the name lodger reports for an open store.
func DriverName(s cstorage.Store) string {
	if s.GraphDriverName() == DriverOverlay {
		for _, opt := range s.GraphOptions() {
			if len(opt) > len("overlay.mount_program=") && opt[:len("overlay.mount_program=")] == "overlay.mount_program=" {
				return DriverFuse
			}
		}
	}
	return s.GraphDriverName()
}
