package container

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
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
// tmpfs mounts of a running container are not seen, as in Docker.
//
// Every path inside the container is resolved inside its root, symlinks
// included, and never again as a string afterwards (CVE-2018-15664:
// Docker checked a path in the container, then used it as a host path, so
// a container that swapped a directory for a symlink in between made
// `docker cp` read or write host files). Directories are opened in the root with
// openat2(RESOLVE_IN_ROOT) through pathrs-lite; below the first directory
// everything is opened relative to a file descriptor, one component at a
// time and never following a symlink, so a container that flips a symlink
// while the copy runs can at worst make it fail.

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
	s, err := openSource(c.end(), src, o.FollowLink)
	if err != nil {
		return err
	}
	defer s.h.Close()
	x := &extractor{owner: func(h *tar.Header) (int, int, bool) {
		if !o.Archive {
			return 0, 0, false // files created here belong to the user
		}
		uid, gid := c.ids.toSession(h.Uid, h.Gid)
		return uid, gid, true
	}}
	return copyTree(s, hostEnd{}, dst, c.ids, x)
}

// CopyToContainer copies src on the host to dst in the container ref, as
// `docker cp SRC CONTAINER:DST` does.
func CopyToContainer(store cstorage.Store, ref, src, dst string, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	s, err := openSource(hostEnd{}, src, o.FollowLink)
	if err != nil {
		return err
	}
	defer s.h.Close()
	return copyTree(s, c.end(), dst, c.ids, c.extractor(o))
}

// ArchiveFromContainer writes src in the container ref to w as a tar
// archive (`docker cp CONTAINER:SRC -`). Owners are the container's ids.
func ArchiveFromContainer(store cstorage.Store, ref, src string, w io.Writer, o CopyOptions) error {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return err
	}
	defer c.close()
	s, err := openSource(c.end(), src, o.FollowLink)
	if err != nil {
		return err
	}
	defer s.h.Close()
	tw := tar.NewWriter(w)
	a := archiver{tw: tw, ids: c.ids.toContainer, links: map[[2]uint64]string{}}
	if err := a.add(s.h, &s.st, s.base); err != nil {
		return fmt.Errorf("copy %s: %w", s.label, err)
	}
	return tw.Close()
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
	e := c.end()
	parent, base, err := locatePath(e, dst, true)
	if err != nil {
		return err
	}
	defer parent.Close()
	dir, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: e.label(dst), Err: errnoOf(err)}
	}
	defer dir.Close()
	x := c.extractor(o)
	x.dir = dir
	// Docker takes the archive compressed too (gzip, bzip2, xz, zstd):
	// testcontainers sends it gzipped.
	plain, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("unpack to %s: %w", e.label(dst), err)
	}
	defer plain.Close()
	if err := x.run(tar.NewReader(plain)); err != nil {
		return fmt.Errorf("unpack to %s: %w", e.label(dst), err)
	}
	return nil
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

func (c *copyRoot) end() rootEnd { return rootEnd{root: c.root, name: c.name} }

// extractor for copies into the container: entries belong to the
// container's root unless -a keeps the archive's owners.
func (c *copyRoot) extractor(o CopyOptions) *extractor {
	return &extractor{owner: func(h *tar.Header) (int, int, bool) {
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

// copyEnd is one side of a copy: where its directories are opened and
// how its paths are named in messages.
type copyEnd interface {
	// openDir returns an O_PATH handle of the directory p.
	openDir(p string) (*os.File, error)
	label(p string) string
	// abs makes p a path openDir takes.
	abs(p string) string
}

// rootEnd is a container's root filesystem: paths are the container's,
// relative to its root whether or not they start with a slash.
type rootEnd struct {
	root *os.File
	name string
}

func (e rootEnd) openDir(p string) (*os.File, error) { return pathrs.OpenatInRoot(e.root, p) }
func (e rootEnd) label(p string) string              { return e.name + ":" + p }
func (e rootEnd) abs(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// hostEnd is the invoking user's side, where paths mean what they mean to
// every other program.
type hostEnd struct{}

func (hostEnd) openDir(p string) (*os.File, error) {
	return os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}
func (hostEnd) label(p string) string { return p }
func (hostEnd) abs(p string) string   { return p }

// maxSymlinks bounds the symlinks locatePath follows, as ELOOP does.
const maxSymlinks = 40

// locatePath returns the directory that holds p and p's last component,
// which is "." when p names a directory as a whole ("/", "dir/.",
// "dir/..").
// With followLast a final symlink is followed, inside the root for a
// container; the last component may not exist.
func locatePath(e copyEnd, p string, followLast bool) (*os.File, string, error) {
	orig := p
	p = e.abs(p)
	for n := 0; ; n++ {
		dir, base := splitLast(p)
		if base == "." || base == ".." {
			dir, base = p, "."
		}
		parent, err := e.openDir(dir)
		if err != nil {
			return nil, "", &fs.PathError{Op: "open", Path: e.label(orig), Err: errnoOf(err)}
		}
		if !followLast || base == "." {
			return parent, base, nil
		}
		var st unix.Stat_t
		err = unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return parent, base, nil
		}
		target, err := readlinkBelow(parent, base)
		parent.Close()
		if err != nil {
			return nil, "", &fs.PathError{Op: "readlink", Path: e.label(orig), Err: err}
		}
		if n == maxSymlinks {
			return nil, "", &fs.PathError{Op: "open", Path: e.label(orig), Err: unix.ELOOP}
		}
		if strings.HasPrefix(target, "/") {
			p = e.abs(target)
		} else {
			// Not path.Join: "link/.." must go up from where the link
			// points, which only the resolver knows.
			p = strings.TrimSuffix(dir, "/") + "/" + target
		}
	}
}

// splitLast splits p into the directory and the last component, ignoring
// trailing slashes.
func splitLast(p string) (dir, base string) {
	t := strings.TrimRight(p, "/")
	if t == "" {
		if p == "" {
			return ".", "."
		}
		return "/", "."
	}
	i := strings.LastIndexByte(t, '/')
	switch {
	case i < 0:
		return ".", t
	case i == 0:
		return "/", t[1:]
	}
	return t[:i], t[i+1:]
}

// copySource is what a copy reads: a handle of it that follows nothing,
// its status, and the name the copy takes ("" for a directory whose
// contents are copied, not the directory itself).
type copySource struct {
	h     *os.File
	st    unix.Stat_t
	base  string
	label string // the path as the user named it, for messages
}

// openSource opens p for reading. A symlink is the link unless follow is
// set or p ends in a slash; "DIR/." and "/" stand for a directory's
// contents.
func openSource(e copyEnd, p string, follow bool) (*copySource, error) {
	if p == "" {
		return nil, fmt.Errorf("copy %s: empty path", e.label(p))
	}
	parent, base, err := locatePath(e, p, follow || strings.HasSuffix(p, "/"))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	h, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: e.label(p), Err: errnoOf(err)}
	}
	s := &copySource{h: h, base: base, label: e.label(p)}
	if err := unix.Fstat(int(h.Fd()), &s.st); err != nil {
		h.Close()
		return nil, &fs.PathError{Op: "stat", Path: e.label(p), Err: err}
	}
	if s.base == "." || contentsOnly(p) {
		if !s.isDir() {
			h.Close()
			return nil, &fs.PathError{Op: "stat", Path: e.label(p), Err: unix.ENOTDIR}
		}
		s.base = ""
	}
	return s, nil
}

func (s *copySource) isDir() bool { return s.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// contentsOnly reports whether p ends in "/.", Docker's way of copying a
// directory's contents rather than the directory.
func contentsOnly(p string) bool { return p == "." || strings.HasSuffix(p, "/.") }

// copyDestination applies Docker's rules for where a copy of s lands at
// p: an existing directory receives it under its own name (its contents
// for "SRC/."), an existing file is replaced by a file, and a missing p
// is created with p's name in an existing directory. It returns the
// directory and the name the copy takes there ("" to unpack into it).
func copyDestination(e copyEnd, p string, s *copySource) (*os.File, string, error) {
	if p == "" {
		return nil, "", fmt.Errorf("copy to %s: empty path", e.label(p))
	}
	wantDir := strings.HasSuffix(p, "/") || contentsOnly(p)
	parent, base, err := locatePath(e, p, true)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, "", fmt.Errorf("copy to %s: destination directory does not exist", e.label(p))
		}
		return nil, "", err
	}
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		dir, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
		parent.Close()
		if err != nil {
			return nil, "", &fs.PathError{Op: "open", Path: e.label(p), Err: errnoOf(err)}
		}
		return dir, s.base, nil
	case err == nil:
		if s.isDir() {
			parent.Close()
			return nil, "", fmt.Errorf("copy to %s: cannot copy a directory to a file", e.label(p))
		}
		if wantDir {
			parent.Close()
			return nil, "", &fs.PathError{Op: "copy to", Path: e.label(p), Err: unix.ENOTDIR}
		}
		return parent, base, nil
	case errors.Is(err, unix.ENOENT):
		if wantDir && !s.isDir() {
			parent.Close()
			return nil, "", fmt.Errorf("copy to %s: destination directory does not exist", e.label(p))
		}
		return parent, base, nil
	}
	parent.Close()
	return nil, "", &fs.PathError{Op: "stat", Path: e.label(p), Err: err}
}

// copyTree copies s to p on the other end through a tar stream, the way
// Docker does, so that both directions and the "-" forms share one reader
// and one writer.
func copyTree(s *copySource, to copyEnd, p string, ids idMapper, x *extractor) error {
	dir, name, err := copyDestination(to, p, s)
	if err != nil {
		return err
	}
	defer dir.Close()
	x.dir = dir
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		a := archiver{tw: tw, ids: ids.toContainer, links: map[[2]uint64]string{}}
		err := a.add(s.h, &s.st, name)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err = x.run(tar.NewReader(pr))
	pr.CloseWithError(errCopyEnded)
	if perr := <-done; perr != nil && !errors.Is(perr, errCopyEnded) {
		err = perr // the cause; the reading side saw only its echo
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", s.label, to.label(p), err)
	}
	return nil
}

// errCopyEnded stops the reading side of a copy when the writing side
// has failed.
var errCopyEnded = errors.New("copy ended")

// openBelow opens name below dir with flags and O_CLOEXEC.
func openBelow(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// readlinkBelow reads the symlink name below dir; an empty name reads the
// link dir itself is an O_PATH handle of.
func readlinkBelow(dir *os.File, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// errnoOf digs the errno out of pathrs' errors, which name the root's
// host path; messages name the container's path instead.
func errnoOf(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// PathInfo is what a path in a container is: the Engine API's stat of
// an archive path.
type PathInfo struct {
	Name       string
	Size       int64
	Mode       os.FileMode
	Mtime      time.Time
	LinkTarget string
}

// StatPath describes p in the container ref, resolved in its root as cp
// resolves it; a missing path is an error wrapping fs.ErrNotExist.
func StatPath(store cstorage.Store, ref, p string) (PathInfo, error) {
	c, err := openCopyRoot(store, ref)
	if err != nil {
		return PathInfo{}, err
	}
	defer c.close()
	s, err := openSource(c.end(), p, false)
	if err != nil {
		return PathInfo{}, err
	}
	defer s.h.Close()
	st := s.st
	mode := os.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	name := s.base
	if name == "" {
		name = path.Base(p)
	}
	info := PathInfo{Name: name, Size: st.Size, Mode: mode, Mtime: time.Unix(st.Mtim.Unix())}
	if mode&os.ModeSymlink != 0 {
		buf := make([]byte, 4096)
		if n, err := unix.Readlinkat(int(s.h.Fd()), "", buf); err == nil {
			info.LinkTarget = string(buf[:n])
		}
	}
	return info, nil
}
