package container

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/lodger-containers/lodger/container/monitor"
)

// Changes returns the changes the container in made to its image's files
// as a layer tar stream (whiteouts for what it removed), for commit. The
// caller closes it.
//
// The stream is spooled to a file beside storage first: storage holds its
// layer lock while a diff is read, and storing the new layer needs that
// lock.
func Changes(store cstorage.Store, in Info) (io.ReadCloser, error) {
	ctr, err := store.Container(in.ID)
	if err != nil {
		return nil, fmt.Errorf("no such container %q: %w", in.Name, err)
	}
	rc, err := store.Diff("", ctr.LayerID, &cstorage.DiffOptions{Compression: ptr(archive.Uncompressed)})
	if err != nil {
		return nil, fmt.Errorf("read changes of container %s: %w", in.Name, err)
	}
	f, err := os.CreateTemp(store.GraphRoot(), ".lodger-commit-*")
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("read changes of container %s: %w", in.Name, err)
	}
	sf := spoolFile{f}
	_, err = io.Copy(f, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		sf.Close()
		return nil, fmt.Errorf("read changes of container %s: %w", in.Name, err)
	}
	return sf, nil
}

// spoolFile is a temporary file that goes when closed.
type spoolFile struct{ *os.File }

func (s spoolFile) Close() error {
	err := s.File.Close()
	os.Remove(s.Name())
	return err
}

func ptr[T any](v T) *T { return &v }

// CommitConfig returns what commit carries from the container into the
// configuration of its image, as docker commit does: the command it ran
// and its labels. The record keeps the command whole, so an image
// entrypoint it starts with stays the entrypoint and the rest becomes
// Cmd; a command that does not (run --entrypoint) replaces both.
func CommitConfig(in Info) func(*imgspecv1.ImageConfig) {
	return func(cfg *imgspecv1.ImageConfig) {
		if args := in.Metadata.Command; len(args) > 0 {
			ep := cfg.Entrypoint
			if len(ep) <= len(args) && slices.Equal(ep, args[:len(ep)]) {
				cfg.Cmd = slices.Clone(args[len(ep):])
			} else {
				cfg.Entrypoint, cfg.Cmd = args[:1:1], slices.Clone(args[1:])
			}
			if len(cfg.Cmd) == 0 {
				cfg.Cmd = nil
			}
		}
		if len(in.Metadata.Labels) > 0 {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			maps.Copy(cfg.Labels, in.Metadata.Labels)
		}
	}
}

// Usage is the containers' part of `system df`.
type Usage struct {
	Total, Active int // Active are running
	// Size is what the containers wrote; Reclaimable that of the ones
	// not running.
	Size, Reclaimable int64
}

// DiskUsage measures the containers' own layers and files.
func DiskUsage(store cstorage.Store) (Usage, error) {
	var u Usage
	infos, err := List(store)
	if err != nil {
		return u, err
	}
	for _, in := range infos {
		u.Total++
		size, err := store.ContainerSize(in.ID)
		if err != nil || size < 0 {
			size = 0
		}
		u.Size += size
		if in.State.Status == monitor.StatusRunning {
			u.Active++
		} else {
			u.Reclaimable += size
		}
	}
	return u, nil
}
