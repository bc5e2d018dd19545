package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// packDir writes the tree under root into tw in walk (sorted) order,
// keeping numeric ownership, permission bits including setuid/setgid/sticky,
// mtimes, symlinks and hard links. Device nodes and sockets are left out and
// returned as skipped: a rootless runtime cannot create devices anyway, and
// images are expected to get /dev from the runtime. Like tar
// --one-file-system, it does not descend into other mounts (a forgotten
// /proc bind in a debootstrap tree), keeping only the mount point.
// Extended attributes are not copied.
func packDir(tw *tar.Writer, root string) (skipped []string, err error) {
	var rootSt syscall.Stat_t
	if err := syscall.Lstat(root, &rootSt); err != nil {
		return nil, fmt.Errorf("lstat %s: %w", root, err)
	}
	if rootSt.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	type inode struct{ dev, ino uint64 }
	firstName := map[inode]string{}

	err = filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", path, err)
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(st.Mode & 0o7777),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: time.Unix(int64(st.Mtim.Sec), 0),
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			if uint64(st.Dev) != uint64(rootSt.Dev) {
				skipped = append(skipped, name+"/ (other filesystem)")
				return fs.SkipDir
			}
			return nil
		case syscall.S_IFREG:
			if uint64(st.Nlink) > 1 {
				key := inode{uint64(st.Dev), uint64(st.Ino)}
				if first, ok := firstName[key]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					if err := tw.WriteHeader(hdr); err != nil {
						return fmt.Errorf("write %s: %w", name, err)
					}
					return nil
				}
				firstName[key] = name
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
			return copyFile(tw, hdr, path)
		case syscall.S_IFLNK:
			target, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", path, err)
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case syscall.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		default:
			skipped = append(skipped, name)
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	})
	return skipped, err
}

func copyFile(tw *tar.Writer, hdr *tar.Header, path string) error {
	// O_NOFOLLOW: the walk saw a regular file; if it has been swapped for a
	// symlink since, fail rather than pack whatever it points to.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	// A file that shrank since the stat ends in io.ErrUnexpectedEOF; one
	// that grew is cut at its stat size.
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	return nil
}

func rootfsConfig() imageConfig {
	return imageConfig{
		Created:      epoch,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config: containerConfig{
			Env: []string{pathEnv},
			Cmd: []string{"/bin/sh"},
		},
	}
}

// buildRootfs writes a single-layer image of the tree under dir and tags it.
func buildRootfs(l *layout, dir string, comp compression, name string, stderr io.Writer) error {
	var skipped []string
	ly, err := l.writeLayer(comp, func(tw *tar.Writer) error {
		var err error
		skipped, err = packDir(tw, dir)
		return err
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "imagegen: skipped %d special files or mounts: %s\n", len(skipped), strings.Join(skipped, " "))
	}
	d, err := l.writeImage(rootfsConfig(), []layer{ly})
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	l.tag(name, d)
	return nil
}
