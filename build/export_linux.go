package build

import (
	"context"
	"fmt"
	"io"
	"os"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/copier"
	"github.com/lodger-containers/lodger/image/transfer"
)

// exportImage writes the image built, id, where o.Export says: an image
// archive (Docker's save format or an OCI layout's), or the image's
// files as a tar archive or a directory, as docker build --output does.
// name is the name a Docker archive gives it ("" for none).
func exportImage(ctx context.Context, store cstorage.Store, o Options, id, name string) error {
	x := o.Export
	out := x.Stdout
	if x.Dest != "-" {
		out = nil
	}
	switch x.Type {
	case ExportDocker, ExportOCI:
		format := transfer.FormatDockerArchive
		if x.Type == ExportOCI {
			format = transfer.FormatOCIArchive
		}
		ref := id
		if name != "" {
			ref = name
		}
		if out != nil {
			return transfer.SaveTo(ctx, store, []string{ref}, out, format, o.Pull)
		}
		return transfer.Save(ctx, store, []string{ref}, x.Dest, format, o.Pull)
	case ExportTar:
		if out != nil {
			return imageFiles(store, id, out)
		}
		// Written beside the destination and renamed: a failed export
		// leaves no partial file.
		f, err := os.CreateTemp(dirOf(x.Dest), ".lodger-output-")
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer os.Remove(f.Name())
		if err := imageFiles(store, id, f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		return os.Rename(f.Name(), x.Dest)
	case ExportLocal:
		if err := os.MkdirAll(x.Dest, 0o755); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		r, w := io.Pipe()
		go func() { w.CloseWithError(imageFiles(store, id, w)) }()
		// The files are the user's, whatever the image's owners (as
		// BuildKit's local exporter writes them); nothing is written
		// through a symlink the image holds.
		err := copier.Extract(copier.Host{}, x.Dest, r, copier.Options{})
		r.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		return nil
	}
	return fmt.Errorf("--output type=%s: %w", x.Type, ErrNotSupported)
}

// imageFiles writes the files of the image id to w as a tar archive, as
// `lodger export` writes a container's.
func imageFiles(store cstorage.Store, id string, w io.Writer) error {
	dir, err := store.MountImage(id, nil, "")
	if err != nil {
		return fmt.Errorf("mount image %s: %w", short(id), err)
	}
	defer func() { _, _ = store.UnmountImage(id, true) }()
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open image %s: %w", short(id), err)
	}
	defer root.Close()
	if err := copier.Archive(copier.Root{Dir: root, Name: short(id)}, "/", w, copier.Options{}); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

func dirOf(p string) string {
	d := p
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] == '/' {
			if i == 0 {
				return "/"
			}
			return d[:i]
		}
	}
	return "."
}
