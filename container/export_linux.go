package container

import (
	"archive/tar"
	"fmt"
	"io"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// Export writes the root filesystem of the container ref, running or not,
// to w as a tar archive, as `docker export` does: the image's files with
// the container's changes, owners as the container sees them. Volumes and
// the files lodger mounts over /etc are not part of it.
func Export(store cstorage.Store, ref string, w io.Writer) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	var st unix.Stat_t
	if err := unix.Fstat(int(c.root.Fd()), &st); err != nil {
		return fmt.Errorf("export %s: stat root: %w", c.name, err)
	}
	tw := tar.NewWriter(w)
	a := archiver{tw: tw, ids: c.ids.toContainer, links: map[[2]uint64]string{}}
	if err := a.add(c.root, &st, ""); err != nil {
		return fmt.Errorf("export %s: %w", c.name, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("export %s: %w", c.name, err)
	}
	if in, err := Get(store, ref); err == nil {
		in.emit("export")
	}
	return nil
}
