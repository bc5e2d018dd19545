package container

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/copier"
)

// CopyOptions are what `lodger cp` takes.
type CopyOptions struct {
	// Archive keeps the owners the source has (-a). Without it, what is
	// copied into a container belongs to the container's root and what
	// is copied out belongs to the invoking user.
	Archive bool
	// FollowLink copies what a symlink source points to (-L), not the
	// link.
	FollowLink bool
}

// Copying works on the container's root filesystem as storage mounts it in
// the session, not in the container's mount namespace: volumes, binds and
// tmpfs mounts of a running container are not seen, as in Docker. What
// keeps a copy inside the root (CVE-2018-15664) is package copier's.

// SplitCopyArg splits a `cp` argument into a container and its path, as
// Docker does: CONTAINER:PATH names a path in a container; an absolute
// path, one starting with ".", one without a colon, or "-" is local (so
// "./a:b" is the local file "a:b").
func SplitCopyArg(arg string) (ctr, p string) {
	if strings.HasPrefix(arg, "/") {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || ctr == "" || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// CopyFromContainer copies src in the container ref to dst on the host, as
// `docker cp CONTAINER:SRC DST` does.
func CopyFromContainer(store cstorage.Store, ref, src, dst string, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	owner := func(h *tar.Header) (int, int, bool) {
		if !o.Archive {
			return 0, 0, false // files created here belong to the user
		}
		uid, gid := c.ids.toSession(h.Uid, h.Gid)
		return uid, gid, true
	}
	return copier.Copy(c.end(), src, copier.Host{}, dst, copier.Options{FollowLink: o.FollowLink, Owner: owner, ArchiveIDs: c.ids.toContainer})
}

// CopyToContainer copies src on the host to dst in the container ref, as
// `docker cp SRC CONTAINER:DST` does.
func CopyToContainer(store cstorage.Store, ref, src, dst string, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	return copier.Copy(copier.Host{}, src, c.end(), dst, c.options(o))
}

// ArchiveFromContainer writes src in the container ref to w as a tar
// archive (`docker cp CONTAINER:SRC -`). Owners are the container's ids.
func ArchiveFromContainer(store cstorage.Store, ref, src string, w io.Writer, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	return copier.Archive(c.end(), src, w, copier.Options{FollowLink: o.FollowLink, ArchiveIDs: c.ids.toContainer})
}

// ExtractToContainer unpacks the tar archive r into the directory dst of
// the container ref (`docker cp - CONTAINER:DST`). The archive's entries
// land below dst whatever their names say.
func ExtractToContainer(store cstorage.Store, ref string, r io.Reader, dst string, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	// Docker takes the archive compressed too (gzip, bzip2, xz, zstd):
	// testcontainers sends it gzipped.
	plain, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("unpack to %s: %w", c.end().Label(dst), err)
	}
	defer plain.Close()
	return copier.Extract(c.end(), dst, plain, c.options(o))
}

// PathInfo is what a path in a container is: the Engine API's stat of
// an archive path.
type PathInfo = copier.PathInfo

// StatPath describes p in the container ref, resolved in its root as cp
// resolves it; a missing path is an error wrapping fs.ErrNotExist.
func StatPath(store cstorage.Store, ref, p string) (PathInfo, error) {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return PathInfo{}, err
	}
	defer c.close()
	return copier.Stat(c.end(), p)
}

// copyRoot is a container whose root filesystem is mounted for a copy.
type copyRoot struct {
	store cstorage.Store
	id    string
	name  string
	root  *os.File // O_PATH handle of the mounted root filesystem
	ids   idMapper
}

// openCopyRoot mounts the root filesystem of a running or stopped
// container. Storage counts mounts, so a running container's stays mounted
// after close.
func openCopyRoot(store cstorage.Store, ref string) (*copyRoot, error) {
	in, err := Get(store, ref)
	if err != nil {
		return nil, err
	}
	ctr, err := store.Container(in.ID)
	if err != nil {
		return nil, fmt.Errorf("no such container %q: %w", ref, err)
	}
	rootfs, err := store.Mount(in.ID, "")
	if err != nil {
		return nil, fmt.Errorf("mount container %s: %w", in.Name, err)
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_, _ = store.Unmount(in.ID, false)
		return nil, fmt.Errorf("open container %s root: %w", in.Name, err)
	}
	return &copyRoot{store: store, id: in.ID, name: in.Name, root: root,
		ids: idMapper{idtools.NewIDMappingsFromMaps(ctr.UIDMap, ctr.GIDMap)}}, nil
}

func (c *copyRoot) close() {
	c.root.Close()
	_, _ = c.store.Unmount(c.id, false)
}

func (c *copyRoot) end() copier.Root { return copier.Root{Dir: c.root, Name: c.name} }

// options for copies into the container: entries belong to the
// container's root unless -a keeps the archive's owners.
func (c *copyRoot) options(o CopyOptions) copier.Options {
	return copier.Options{FollowLink: o.FollowLink, ArchiveIDs: c.ids.toContainer, Owner: func(h *tar.Header) (int, int, bool) {
		uid, gid := 0, 0
		if o.Archive {
			uid, gid = h.Uid, h.Gid
		}
		uid, gid = c.ids.toSession(uid, gid)
		return uid, gid, true
	}}
}

// idMapper converts between the ids the session sees and the container's
// own; they differ only under --userns=keep-id. Archives carry the
// container's ids.
type idMapper struct{ m *idtools.IDMappings }

// overflowID stands for an id the other side has no number for.
const overflowID = 65534

func (i idMapper) toContainer(uid, gid int) (int, int) {
	u, err := idtools.RawToContainer(uid, i.m.UIDs())
	if err != nil {
		u = overflowID
	}
	g, err := idtools.RawToContainer(gid, i.m.GIDs())
	if err != nil {
		g = overflowID
	}
	return u, g
}

func (i idMapper) toSession(uid, gid int) (int, int) {
	u, err := idtools.RawToHost(uid, i.m.UIDs())
	if err != nil {
		u = overflowID
	}
	g, err := idtools.RawToHost(gid, i.m.GIDs())
	if err != nil {
		g = overflowID
	}
	return u, g
}
