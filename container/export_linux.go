package container

import (
	"fmt"
	"io"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/copier"
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
	// "/" of the root: its contents, named from there.
	if err := copier.Archive(c.end(), "/", w, copier.Options{ArchiveIDs: c.ids.toContainer}); err != nil {
		return fmt.Errorf("export %s: %w", c.name, err)
	}
	if in, err := Get(store, ref); err == nil {
		in.emit("export")
	}
	return nil
}
