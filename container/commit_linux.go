package container

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/image"
)

// CommitOptions describe the image Commit makes of a container.
type CommitOptions struct {
	// Name names the image (REPOSITORY[:TAG]); empty leaves it unnamed.
	Name string
	// Config, when set, adjusts the image's configuration after what the
	// container carries into it (CommitConfig) and before Changes: the
	// API's commit body.
	Config func(*imgspecv1.ImageConfig)
	// Changes are Dockerfile instructions applied last, in order.
	Changes []image.Change
	// Comment and Author go into the image's history.
	Comment, Author string
	// Pause stops a running container's processes while its changes are
	// read, so that the image is one moment of its files (docker commit's
	// default); it is resumed at once after.
	Pause bool
	// MaxUnpackedSize bounds the new layer as a pull's layers are.
	MaxUnpackedSize int64
}

// Commit makes a new image of the changes the container ref made to its
// image's files and returns its ID: one layer more on the container's
// image, with the command it ran and its labels (CommitConfig), then
// o.Config and o.Changes. The CLI's commit and the API's are this call.
func Commit(ctx context.Context, store cstorage.Store, ref string, o CommitOptions) (string, error) {
	in, err := Get(store, ref)
	if err != nil {
		return "", err
	}
	diff, err := pausedChanges(store, in, o.Pause)
	if err != nil {
		return "", err
	}
	defer diff.Close()
	base := CommitConfig(in)
	cfg := base
	if o.Config != nil {
		cfg = func(c *imgspecv1.ImageConfig) { base(c); o.Config(c) }
	}
	id, err := image.Commit(ctx, store, diff, image.CommitOptions{
		Base:            in.ImageID,
		Name:            o.Name,
		Config:          cfg,
		Changes:         o.Changes,
		CreatedBy:       strings.Join(in.Metadata.Command, " "),
		Comment:         o.Comment,
		Author:          o.Author,
		MaxUnpackedSize: o.MaxUnpackedSize,
	})
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", in.Name, err)
	}
	EmitCommit(in, id, o.Name, o.Comment)
	return id, nil
}

// pausedChanges reads the container's changes (Changes), paused while
// they are read when pause is set and it runs unpaused.
func pausedChanges(store cstorage.Store, in Info, pause bool) (io.ReadCloser, error) {
	if pause && in.State.Status == monitor.StatusRunning && !in.State.Paused {
		if err := Pause(store, in.ID); err != nil {
			return nil, fmt.Errorf("commit %s: %w", in.Name, err)
		}
		defer func() { _ = Unpause(store, in.ID) }()
	}
	return Changes(store, in)
}

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
