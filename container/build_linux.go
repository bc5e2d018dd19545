package container

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/copier"
)

// What lodger build needs of a container (issue 16): the changes of a RUN
// step without the mount points the runtime made, and COPY's unpacking
// into a root filesystem no process runs in.

// StepChanges returns the changes the stopped container id made to its
// image's files as a layer tar stream, without the empty mount points the
// runtime made for /proc, /etc/hosts and the like (Docker keeps those in a
// layer of its own that no image gets), or nil when nothing else changed.
// The stream is spooled to a file as Changes does; the caller closes it.
func StepChanges(store cstorage.Store, id string) (io.ReadCloser, error) {
	c, err := store.Container(id)
	if err != nil {
		return nil, fmt.Errorf("no such container %q: %w", id, err)
	}
	changes, err := store.Changes("", c.LayerID)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", id, err)
	}
	mountPoints := map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true, "/dev/shm": true, "/dev/mqueue": true}
	if spec, err := loadSpec(store, c.ID); err == nil {
		for _, m := range spec.Mounts {
			mountPoints[m.Destination] = true
		}
	}
	kept := map[string]bool{}
	for _, l := range diffLines(changes, mountPoints) {
		kept[l.Path] = true
	}
	if len(kept) == 0 {
		return nil, nil
	}
	rc, err := store.Diff("", c.LayerID, &cstorage.DiffOptions{Compression: ptr(archive.Uncompressed)})
	if err != nil {
		return nil, fmt.Errorf("read changes of container %s: %w", id, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(store.GraphRoot(), ".lodger-build-*")
	if err != nil {
		return nil, fmt.Errorf("read changes of container %s: %w", id, err)
	}
	sf := spoolFile{f}
	if err := filterLayer(rc, f, kept); err != nil {
		sf.Close()
		return nil, fmt.Errorf("read changes of container %s: %w", id, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		sf.Close()
		return nil, err
	}
	return sf, nil
}

// filterLayer copies the layer tar stream r to w with only the entries
// whose path is kept (or is a whiteout of one), and the directories above
// them.
func filterLayer(r io.Reader, w io.Writer, kept map[string]bool) error {
	// A directory above a kept path carries its metadata.
	above := map[string]bool{}
	for k := range kept {
		for q := path.Dir(k); q != "/" && q != "." && !above[q]; q = path.Dir(q) {
			above[q] = true
		}
	}
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		p := "/" + strings.TrimSuffix(path.Clean(strings.TrimPrefix(hdr.Name, "./")), "/")
		dir, base := path.Split(p)
		switch {
		case base == archive.WhiteoutOpaqueDir:
			p = path.Clean(dir) // the directory's own change
		case strings.HasPrefix(base, archive.WhiteoutPrefix):
			p = dir + strings.TrimPrefix(base, archive.WhiteoutPrefix)
		}
		// Storage lists every changed path, each one below an added
		// directory too: a path is kept when it is itself, so that a
		// mount point below a kept directory still stays out.
		if !kept[p] && !above[p] {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ExtractToRoot unpacks the tar stream r below the directory dst of the
// root filesystem mounted at rootfs, as COPY and ADD do: dst and its
// missing parents are made (0755, root's), every path is resolved inside
// the root (a symlink in the image leads somewhere in the image, never
// out), and entries keep the owners the archive gives them.
func ExtractToRoot(rootfs, dst string, r io.Reader) error {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open root: %w", err)
	}
	defer root.Close()
	dir, err := pathrs.MkdirAllHandle(root, dst, 0o755)
	if err != nil {
		return fmt.Errorf("make %s: %w", dst, copier.Errno(err))
	}
	defer dir.Close()
	keep := func(h *tar.Header) (int, int, bool) { return h.Uid, h.Gid, true }
	if err := copier.ExtractIn(dir, r, copier.Options{Owner: keep}); err != nil {
		return fmt.Errorf("unpack to %s: %w", dst, err)
	}
	return nil
}

// ExtractToDir unpacks the tar stream r, which may be hostile (a build
// context piped in), into the directory dir with the same care as
// ExtractToRoot: every entry created through descriptors, no symlink in
// the archive followed, nothing outside dir written. Owners are not kept:
// everything belongs to the caller.
func ExtractToDir(dir string, r io.Reader) error {
	d, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return copier.ExtractIn(d, r, copier.Options{})
}

// StatInRoot describes p resolved inside the root filesystem at rootfs,
// following symlinks there; a missing path is an error that matches
// fs.ErrNotExist.
func StatInRoot(rootfs, p string) (os.FileInfo, error) {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	defer root.Close()
	f, err := pathrs.OpenatInRoot(root, p)
	if err != nil {
		return nil, &os.PathError{Op: "stat", Path: p, Err: copier.Errno(err)}
	}
	defer f.Close()
	return f.Stat()
}
