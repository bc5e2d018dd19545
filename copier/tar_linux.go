package copier

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// archiver writes a tree to a tar stream, reading it through file
// descriptors only: each entry is opened O_PATH|O_NOFOLLOW relative to its
// directory's descriptor and everything else is done on that handle.
type archiver struct {
	tw  *tar.Writer
	ids func(uid, gid int) (int, int) // the session's ids to the archive's
	// links maps a (device, inode) with several links to its first name.
	links map[[2]uint64]string
}

// add writes h, whose status is st, as name, and what is below it. An
// empty name writes a directory's contents without the directory.
func (a *archiver) add(h *os.File, st *unix.Stat_t, name string) error {
	hdr := &tar.Header{
		Name:       name,
		Mode:       int64(st.Mode & 0o7777),
		ModTime:    time.Unix(st.Mtim.Unix()),
		AccessTime: time.Unix(st.Atim.Unix()),
		// PAX keeps nanoseconds and long names.
		Format: tar.FormatPAX,
	}
	hdr.Uid, hdr.Gid = a.ids(int(st.Uid), int(st.Gid))
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if name != "" {
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
			if err := a.tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		return a.dir(h, name)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := a.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return a.tw.WriteHeader(hdr)
			}
			a.links[key] = name
		}
		return a.file(h, hdr, st.Size)
	case unix.S_IFLNK:
		target, err := readlinkBelow(h, "")
		if err != nil {
			return &fs.PathError{Op: "readlink", Path: name, Err: err}
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		return nil // sockets: tar has no type for them
	}
	return a.tw.WriteHeader(hdr)
}

// file writes a regular file. It is reopened for reading from its O_PATH
// handle, so it is the very file that was looked at; one that shrinks
// meanwhile is padded, one that grows is cut at the size in the header.
func (a *archiver) file(h *os.File, hdr *tar.Header, size int64) error {
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return &fs.PathError{Op: "open", Path: hdr.Name, Err: Errno(err)}
	}
	defer f.Close()
	hdr.Typeflag, hdr.Size = tar.TypeReg, size
	hdr.PAXRecords = xattrRecords(int(f.Fd()))
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(a.tw, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("read %s: %w", hdr.Name, err)
	}
	_, err = io.CopyN(a.tw, zeroReader{}, size-n)
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// dir writes the entries of the directory h, sorted.
func (a *archiver) dir(h *os.File, name string) error {
	d, err := openBelow(h, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", name, err)
	}
	slices.Sort(names)
	for _, n := range names {
		c, err := openBelow(d, n, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue // removed since the listing
		}
		if err != nil {
			return &fs.PathError{Op: "open", Path: path.Join(name, n), Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(c.Fd()), &st); err != nil {
			c.Close()
			return &fs.PathError{Op: "stat", Path: path.Join(name, n), Err: err}
		}
		err = a.add(c, &st, path.Join(name, n))
		c.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// xattrPrefix marks extended attributes among PAX records, as GNU tar and
// Docker write them.
const xattrPrefix = "SCHILY.xattr."

// xattrRecords reads the extended attributes of the open file fd.
func xattrRecords(fd int) map[string]string {
	size, err := unix.Flistxattr(fd, nil)
	if err != nil || size <= 0 {
		return nil
	}
	buf := make([]byte, size)
	if size, err = unix.Flistxattr(fd, buf); err != nil {
		return nil
	}
	var recs map[string]string
	for _, attr := range strings.Split(string(buf[:size]), "\x00") {
		if attr == "" {
			continue
		}
		n, err := unix.Fgetxattr(fd, attr, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		if n, err = unix.Fgetxattr(fd, attr, val); err != nil {
			continue
		}
		if recs == nil {
			recs = map[string]string{}
		}
		recs[xattrPrefix+attr] = string(val[:n])
	}
	return recs
}

// extractor unpacks a tar stream below a directory. Names are taken
// apart one component at a time below that directory's handle, never
// following a symlink, so neither a symlink in the archive nor one made
// meanwhile by a running container takes a later entry elsewhere.
type extractor struct {
	dir *os.File // O_PATH handle of the directory entries land in
	// owner gives an entry's owner in the session's ids; false leaves
	// the creator's.
	owner func(*tar.Header) (uid, gid int, ok bool)
	// dirs get their modes and times last: writing into a directory
	// changes its mtime, and a read-only one could not be filled.
	dirs []dirMeta
	// last caches the handle of the most recent parent directory.
	lastName string
	last     *os.File
}

type dirMeta struct {
	name         string
	mode         uint32
	atime, mtime time.Time
}

func (x *extractor) run(tr *tar.Reader) error {
	defer func() {
		if x.last != nil {
			x.last.Close()
		}
	}()
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	for _, d := range slices.Backward(x.dirs) {
		if err := x.finishDir(d); err != nil {
			return err
		}
	}
	return nil
}

// archiveEntryName cleans an archive name into a relative path. Leading
// slashes are dropped, as tar does; a name that climbs out is refused.
func archiveEntryName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("archive entry %q leaves the destination", name)
	}
	return c, nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := archiveEntryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the destination itself: left as it is
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
	default:
		return nil // global headers and the like carry no file
	}
	dir, base := path.Split(name)
	parent, err := x.parent(strings.TrimSuffix(dir, "/"), true)
	if err != nil {
		return err
	}
	defer parent.Close()
	pfd := int(parent.Fd())
	// Docker's rules without --overwrite-dir: a directory and a file
	// never replace each other; anything else already there goes.
	var st unix.Stat_t
	isDir := hdr.Typeflag == tar.TypeDir
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		exDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case exDir && !isDir:
			return fmt.Errorf("extract %s: cannot overwrite a directory with a non-directory", name)
		case !exDir && isDir:
			return fmt.Errorf("extract %s: cannot overwrite a non-directory with a directory", name)
		case !exDir:
			if err := unix.Unlinkat(pfd, base, 0); err != nil {
				return &fs.PathError{Op: "remove", Path: name, Err: err}
			}
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &fs.PathError{Op: "mkdir", Path: name, Err: err}
		}
		h, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
		if err != nil {
			return &fs.PathError{Op: "open", Path: name, Err: err}
		}
		err = x.chown(h, hdr, name)
		h.Close()
		if err != nil {
			return err
		}
		x.dirs = append(x.dirs, dirMeta{name, mode, headerAtime(hdr), hdr.ModTime})
		return nil
	case tar.TypeReg:
		return x.file(parent, base, name, hdr, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return &fs.PathError{Op: "symlink", Path: name, Err: err}
		}
		if uid, gid, ok := x.owner(hdr); ok {
			if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
				return &fs.PathError{Op: "chown", Path: name, Err: err}
			}
		}
		ts := []unix.Timespec{timespec(headerAtime(hdr)), timespec(hdr.ModTime)}
		_ = unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	case tar.TypeLink:
		target, err := archiveEntryName(hdr.Linkname)
		if err != nil {
			return err
		}
		tdir, tbase := path.Split(target)
		tparent, err := x.parent(strings.TrimSuffix(tdir, "/"), false)
		if err != nil {
			return err
		}
		defer tparent.Close()
		// Without AT_SYMLINK_FOLLOW: a symlink is linked, never followed.
		if err := unix.Linkat(int(tparent.Fd()), tbase, pfd, base, 0); err != nil {
			return &fs.PathError{Op: "link", Path: name, Err: err}
		}
		return nil
	default: // FIFO, character or block device
		typ := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			typ = unix.S_IFCHR
		case tar.TypeBlock:
			typ = unix.S_IFBLK
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(pfd, base, typ|0o600, dev); err != nil {
			return &fs.PathError{Op: "mknod", Path: name, Err: err}
		}
		h, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return &fs.PathError{Op: "open", Path: name, Err: err}
		}
		defer h.Close()
		if err := x.chown(h, hdr, name); err != nil {
			return err
		}
		return setModeTimes(h, name, mode, headerAtime(hdr), hdr.ModTime)
	}
}

// file writes a regular file: created afresh (O_EXCL, O_NOFOLLOW), owner,
// then mode (chown clears set-id bits), extended attributes, times.
func (x *extractor) file(parent *os.File, base, name string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := x.chown(f, hdr, name); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, xattrPrefix); ok {
			// What the session may not set (trusted.*, say) stays behind.
			_ = unix.Fsetxattr(fd, attr, []byte(v), 0)
		}
	}
	if err := setModeTimes(f, name, uint32(hdr.Mode&0o7777), headerAtime(hdr), hdr.ModTime); err != nil {
		return err
	}
	return f.Close()
}

// chown gives h the entry's owner. An id the session has no number for
// (in a single-id session) leaves the creator's, as volume copies do.
func (x *extractor) chown(h *os.File, hdr *tar.Header, name string) error {
	uid, gid, ok := x.owner(hdr)
	if !ok {
		return nil
	}
	err := unix.Fchownat(int(h.Fd()), "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return &fs.PathError{Op: "chown", Path: name, Err: err}
	}
	return nil
}

// finishDir sets a directory's mode and times, found again one component
// at a time.
func (x *extractor) finishDir(d dirMeta) error {
	dir, base := path.Split(d.name)
	parent, err := x.parent(strings.TrimSuffix(dir, "/"), false)
	if err != nil {
		return err
	}
	defer parent.Close()
	h, err := openBelow(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: d.name, Err: err}
	}
	defer h.Close()
	return setModeTimes(h, d.name, d.mode, d.atime, d.mtime)
}

// setModeTimes sets the mode and times of the file h is a handle of,
// through its /proc/self/fd link: the handle may be O_PATH, and the link
// leads to that very inode whatever happened to its name.
func setModeTimes(h *os.File, name string, mode uint32, atime, mtime time.Time) error {
	p := "/proc/self/fd/" + strconv.Itoa(int(h.Fd()))
	if err := unix.Chmod(p, mode); err != nil {
		return &fs.PathError{Op: "chmod", Path: name, Err: err}
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNano(p, ts); err != nil {
		return &fs.PathError{Op: "set times of", Path: name, Err: err}
	}
	return nil
}

// parent returns a handle of the directory dir below x.dir, creating
// missing directories when create is set. The caller closes it.
func (x *extractor) parent(dir string, create bool) (*os.File, error) {
	if dir == "" || dir == "." {
		return dupHandle(x.dir)
	}
	if x.last != nil && x.lastName == dir {
		return dupHandle(x.last)
	}
	cur, err := dupHandle(x.dir)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Split(dir, "/") {
		next, err := openBelow(cur, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(int(cur.Fd()), c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = openBelow(cur, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY)
			}
		}
		cur.Close()
		if err != nil {
			// ENOTDIR here is also what a symlink in the way gives.
			return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(next.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			next.Close()
			return nil, &fs.PathError{Op: "open", Path: dir, Err: unix.ENOTDIR}
		}
		cur = next
	}
	if x.last != nil {
		x.last.Close()
	}
	x.lastName, x.last = dir, cur
	return dupHandle(cur)
}

func dupHandle(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func headerAtime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func timespec(t time.Time) unix.Timespec { return unix.NsecToTimespec(t.UnixNano()) }
