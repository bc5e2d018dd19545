package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Populate copies the tree at src into the empty directory dst, as Docker
// does when a volume is first mounted over image content: owners, modes,
// times, symlinks, hardlinks, FIFOs and the extended attributes of regular
// files are kept, and dst takes the owner and mode of src. It does nothing,
// and reports false, when dst is not empty or src is not a directory.
//
// Both trees are opened as os.Root, so no symlink in either, nor a
// running container changing a shared volume underneath, can lead the
// copy outside them. Device nodes are skipped: the session user namespace
// cannot create them.
func Populate(dst, src string) (bool, error) {
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		return false, err
	}
	if len(ents) > 0 {
		return false, nil
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		return false, err
	}
	defer from.Close()
	to, err := os.OpenRoot(dst)
	if err != nil {
		return false, err
	}
	defer to.Close()
	c := copier{from: from, to: to, links: map[[2]uint64]string{}}
	if err := fs.WalkDir(from.FS(), ".", c.entry); err != nil {
		return false, fmt.Errorf("copy image content %s: %w", src, err)
	}
	// Directory times last: writing into a directory changes its mtime.
	for _, d := range slices.Backward(c.dirs) {
		_ = to.Chtimes(d.name, d.atime, d.mtime)
	}
	return true, nil
}

type copier struct {
	from, to *os.Root
	// links maps a (device, inode) with several links to its first copy.
	links map[[2]uint64]string
	dirs  []dirTimes
}

type dirTimes struct {
	name         string
	atime, mtime time.Time
}

func (c *copier) entry(name string, _ fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	fi, err := c.from.Lstat(name)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner information", name)
	}
	atime := time.Unix(st.Atim.Unix())
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if name != "." {
			if err := c.to.Mkdir(name, 0o700); err != nil {
				return err
			}
		}
		if err := c.owner(name, st, mode); err != nil {
			return err
		}
		c.dirs = append(c.dirs, dirTimes{name, atime, fi.ModTime()})
		return nil
	case mode.IsRegular():
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := c.links[key]; ok {
				return c.to.Link(first, name)
			}
			c.links[key] = name
		}
		if err := c.file(name, st, mode); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := c.from.Readlink(name)
		if err != nil {
			return err
		}
		if err := c.to.Symlink(target, name); err != nil {
			return err
		}
		return ignoreUnmapped(c.to.Lchown(name, int(st.Uid), int(st.Gid)))
	case mode&fs.ModeNamedPipe != 0:
		if err := c.fifo(name, mode); err != nil {
			return err
		}
		if err := c.owner(name, st, mode); err != nil {
			return err
		}
	default:
		// Devices and sockets: nothing a user namespace can recreate.
		return nil
	}
	return c.to.Chtimes(name, atime, fi.ModTime())
}

// owner gives name the owner and mode of the original; chown clears the
// set-id bits, so the mode comes second.
func (c *copier) owner(name string, st *syscall.Stat_t, mode fs.FileMode) error {
	if err := ignoreUnmapped(c.to.Lchown(name, int(st.Uid), int(st.Gid))); err != nil {
		return err
	}
	return c.to.Chmod(name, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

func (c *copier) file(name string, st *syscall.Stat_t, mode fs.FileMode) error {
	in, err := c.from.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.to.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := ignoreUnmapped(out.Chown(int(st.Uid), int(st.Gid))); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode.Perm() | mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		out.Close()
		return err
	}
	// After chown, which drops security.capability.
	copyXattrs(int(in.Fd()), int(out.Fd()))
	return out.Close()
}

// copyXattrs copies what extended attributes it may; those the session
// cannot set (trusted.*, say) are left behind.
func copyXattrs(from, to int) {
	size, err := unix.Flistxattr(from, nil)
	if err != nil || size <= 0 {
		return
	}
	buf := make([]byte, size)
	size, err = unix.Flistxattr(from, buf)
	if err != nil {
		return
	}
	for len(buf[:size]) > 0 {
		i := slices.Index(buf[:size], 0)
		if i < 0 {
			break
		}
		attr := string(buf[:i])
		buf, size = buf[i+1:], size-i-1
		n, err := unix.Fgetxattr(from, attr, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		if n, err = unix.Fgetxattr(from, attr, val); err == nil {
			_ = unix.Fsetxattr(to, attr, val[:n], 0)
		}
	}
}

// fifo makes a named pipe at name, below a directory opened in the root.
func (c *copier) fifo(name string, mode fs.FileMode) error {
	dir, err := c.to.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Mkfifoat(int(dir.Fd()), path.Base(name), uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "mkfifo", Path: name, Err: err}
	}
	return nil
}

// ignoreUnmapped drops EINVAL from chown: an owner with no id in the
// session (a single-id session maps only root) keeps the copier's.
func ignoreUnmapped(err error) error {
	if errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return err
}

// Chown gives every file below dir, dir included, to uid:gid (the `U`
// volume option). Symlinks themselves change owner, never what they point
// at, and the walk stays inside dir.
func Chown(dir string, uid, gid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(name string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := root.Lchown(name, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
		return nil
	})
}
