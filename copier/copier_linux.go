package copier

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
	"golang.org/x/sys/unix"
)

// Options say how a copy treats links and owners.
type Options struct {
	// FollowLink copies what a symlink source points to, not the link.
	FollowLink bool
	// Owner gives an unpacked entry's owner on disk, in the ids of the
	// process that copies; false leaves the creator's. Nil: the creator's.
	Owner func(*tar.Header) (uid, gid int, ok bool)
	// ArchiveIDs maps an owner on disk to the archive's ids (a
	// container's own under --userns=keep-id). Nil: unchanged.
	ArchiveIDs func(uid, gid int) (int, int)
}

func (o Options) archiveIDs() func(uid, gid int) (int, int) {
	if o.ArchiveIDs != nil {
		return o.ArchiveIDs
	}
	return func(uid, gid int) (int, int) { return uid, gid }
}

func (o Options) extractor() *extractor {
	owner := o.Owner
	if owner == nil {
		owner = func(*tar.Header) (int, int, bool) { return 0, 0, false }
	}
	return &extractor{owner: owner}
}

// Copy copies src on from to dst on to, with Docker's cp rules for where
// it lands ("SRC/." for a directory's contents, an existing directory
// receives it under its own name, a missing dst is created in an existing
// directory).
func Copy(from End, src string, to End, dst string, o Options) error {
	s, err := openSource(from, src, o.FollowLink)
	if err != nil {
		return err
	}
	defer s.h.Close()
	return copyTree(s, to, dst, o.archiveIDs(), o.extractor())
}

// Archive writes src on from to w as a tar archive, as `docker cp
// CONTAINER:SRC -` does.
func Archive(from End, src string, w io.Writer, o Options) error {
	s, err := openSource(from, src, o.FollowLink)
	if err != nil {
		return err
	}
	defer s.h.Close()
	tw := tar.NewWriter(w)
	a := archiver{tw: tw, ids: o.archiveIDs(), links: map[[2]uint64]string{}}
	if err := a.add(s.h, &s.st, s.base); err != nil {
		return fmt.Errorf("copy %s: %w", s.label, err)
	}
	return tw.Close()
}

// ExtractIn unpacks the (uncompressed) tar archive r below dir, an
// O_PATH handle of a directory, with Extract's care.
func ExtractIn(dir *os.File, r io.Reader, o Options) error {
	x := o.extractor()
	x.dir = dir
	return x.run(tar.NewReader(r))
}

// Extract unpacks the (uncompressed) tar archive r into the directory dst
// on to. Its entries land below dst whatever their names say, and none is
// written through a symlink, not even one the archive itself made.
func Extract(to End, dst string, r io.Reader, o Options) error {
	parent, base, err := locatePath(to, dst, true)
	if err != nil {
		return err
	}
	defer parent.Close()
	dir, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: to.Label(dst), Err: Errno(err)}
	}
	defer dir.Close()
	x := o.extractor()
	x.dir = dir
	if err := x.run(tar.NewReader(r)); err != nil {
		return fmt.Errorf("unpack to %s: %w", to.Label(dst), err)
	}
	return nil
}

// End is one side of a copy: where its directories are opened and how
// its paths are named in messages.
type End interface {
	// OpenDir returns an O_PATH handle of the directory p.
	OpenDir(p string) (*os.File, error)
	// Label names p in messages.
	Label(p string) string
	// Abs makes p a path OpenDir takes.
	Abs(p string) string
}

// Root is a tree whose symlinks must not lead out of it, such as a
// container's root filesystem: paths are relative to it whether or not
// they start with a slash, and resolved in it (openat2 RESOLVE_IN_ROOT).
type Root struct {
	// Dir is an O_PATH handle of the tree's top; Name prefixes its paths
	// in messages ("NAME:PATH").
	Dir  *os.File
	Name string
}

var _ End = Root{}

func (e Root) OpenDir(p string) (*os.File, error) { return pathrs.OpenatInRoot(e.Dir, p) }
func (e Root) Label(p string) string              { return e.Name + ":" + p }
func (e Root) Abs(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// Host is the invoking user's side, where paths mean what they mean to
// every other program.
type Host struct{}

var _ End = Host{}

func (Host) OpenDir(p string) (*os.File, error) {
	return os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}
func (Host) Label(p string) string { return p }
func (Host) Abs(p string) string   { return p }

// maxSymlinks bounds the symlinks locatePath follows, as ELOOP does.
const maxSymlinks = 40

// locatePath returns the directory that holds p and p's last component,
// which is "." when p names a directory as a whole ("/", "dir/.",
// "dir/..").
// With followLast a final symlink is followed, inside the root for a
// container; the last component may not exist.
func locatePath(e End, p string, followLast bool) (*os.File, string, error) {
	orig := p
	p = e.Abs(p)
	for n := 0; ; n++ {
		dir, base := splitLast(p)
		if base == "." || base == ".." {
			dir, base = p, "."
		}
		parent, err := e.OpenDir(dir)
		if err != nil {
			return nil, "", &fs.PathError{Op: "open", Path: e.Label(orig), Err: Errno(err)}
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
			return nil, "", &fs.PathError{Op: "readlink", Path: e.Label(orig), Err: err}
		}
		if n == maxSymlinks {
			return nil, "", &fs.PathError{Op: "open", Path: e.Label(orig), Err: unix.ELOOP}
		}
		if strings.HasPrefix(target, "/") {
			p = e.Abs(target)
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
func openSource(e End, p string, follow bool) (*copySource, error) {
	if p == "" {
		return nil, fmt.Errorf("copy %s: empty path", e.Label(p))
	}
	parent, base, err := locatePath(e, p, follow || strings.HasSuffix(p, "/"))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	h, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: e.Label(p), Err: Errno(err)}
	}
	s := &copySource{h: h, base: base, label: e.Label(p)}
	if err := unix.Fstat(int(h.Fd()), &s.st); err != nil {
		h.Close()
		return nil, &fs.PathError{Op: "stat", Path: e.Label(p), Err: err}
	}
	if s.base == "." || contentsOnly(p) {
		if !s.isDir() {
			h.Close()
			return nil, &fs.PathError{Op: "stat", Path: e.Label(p), Err: unix.ENOTDIR}
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
func copyDestination(e End, p string, s *copySource) (*os.File, string, error) {
	if p == "" {
		return nil, "", fmt.Errorf("copy to %s: empty path", e.Label(p))
	}
	wantDir := strings.HasSuffix(p, "/") || contentsOnly(p)
	parent, base, err := locatePath(e, p, true)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, "", fmt.Errorf("copy to %s: destination directory does not exist", e.Label(p))
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
			return nil, "", &fs.PathError{Op: "open", Path: e.Label(p), Err: Errno(err)}
		}
		return dir, s.base, nil
	case err == nil:
		if s.isDir() {
			parent.Close()
			return nil, "", fmt.Errorf("copy to %s: cannot copy a directory to a file", e.Label(p))
		}
		if wantDir {
			parent.Close()
			return nil, "", &fs.PathError{Op: "copy to", Path: e.Label(p), Err: unix.ENOTDIR}
		}
		return parent, base, nil
	case errors.Is(err, unix.ENOENT):
		if wantDir && !s.isDir() {
			parent.Close()
			return nil, "", fmt.Errorf("copy to %s: destination directory does not exist", e.Label(p))
		}
		return parent, base, nil
	}
	parent.Close()
	return nil, "", &fs.PathError{Op: "stat", Path: e.Label(p), Err: err}
}

// copyTree copies s to p on the other end through a tar stream, the way
// Docker does, so that both directions and the "-" forms share one reader
// and one writer.
func copyTree(s *copySource, to End, p string, ids func(uid, gid int) (int, int), x *extractor) error {
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
		a := archiver{tw: tw, ids: ids, links: map[[2]uint64]string{}}
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
		return fmt.Errorf("copy %s to %s: %w", s.label, to.Label(p), err)
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

// Errno digs the errno out of pathrs' errors, which name the root's host
// path, so that a message can name the path as its user knows it.
func Errno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// PathInfo is what a path is: the Engine API's stat of an archive path.
type PathInfo struct {
	Name       string
	Size       int64
	Mode       os.FileMode
	Mtime      time.Time
	LinkTarget string
}

// Stat describes p on e, resolved as a copy resolves it (a final symlink
// is the link); a missing path is an error wrapping fs.ErrNotExist.
func Stat(e End, p string) (PathInfo, error) {
	s, err := openSource(e, p, false)
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
