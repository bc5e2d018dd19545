package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// What a container wrote is removed after `run --rm` returns when it is
// more than this (issue 14): removing 3000 small files took 100-200 ms,
// all of it spent before lodger could exit. Below it, storage's own
// delete is quicker than handing it on.
const (
	discardEntries = 256
	discardBytes   = 64 << 20
)

// The layout storage's overlay driver uses for what it is deleting
// (go.podman.io/storage internal/tempdir): overlay/tempdirs/temp-dir-ID,
// guarded by an exclusive fcntl lock on overlay/tempdirs/lock-ID. Each
// process that loads the layer store for writing removes every such
// directory whose lock it can take, so one left by a crash goes at the
// next lodger command. TestDiscardRecovered holds storage to this.
const (
	tempDirsName   = "tempdirs"
	tempDirPrefix  = "temp-dir-"
	tempLockPrefix = "lock-"
)

// Discarded is a container layer's upper directory moved out of the layer
// into storage's staging area for deletion, to be removed by a process of
// its own once the container's record is gone.
type Discarded struct {
	lock  *os.File // lock-ID, holding an open file description lock
	dir   string   // temp-dir-ID
	from  string   // the upper directory's place in the layer
	moved string   // and its place in dir
}

// upperDir is the directory that holds what the container of layer wrote,
// for the drivers whose layout lodger knows (overlay, with or without
// fuse-overlayfs).
func upperDir(store cstorage.Store, layer string) (upper, tempDirs string, ok bool) {
	if store.GraphDriverName() != DriverOverlay || layer == "" || strings.ContainsAny(layer, "/.") {
		return "", "", false
	}
	home := filepath.Join(store.GraphRoot(), DriverOverlay)
	return filepath.Join(home, layer, "diff"), filepath.Join(home, tempDirsName), true
}

// large says whether dir holds more than discardEntries entries or
// discardBytes bytes, reading no further than it takes to know. It
// follows no symbolic link: the container chose what is there.
func large(dir string) bool {
	entries, bytes := 0, int64(0)
	big := false
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		entries++
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
			}
		}
		if entries > discardEntries || bytes > discardBytes {
			big = true
			return fs.SkipAll
		}
		return nil
	})
	return big
}

// DiscardUpper moves what the container id (of layer) wrote out of its
// layer when that is large, so that DeleteContainer has little left to
// remove; it unmounts the container first, as the move needs. It returns
// nil, having changed nothing, when the upper directory is small, the
// driver is not overlay, or anything fails: the delete then removes it
// all itself.
func DiscardUpper(store cstorage.Store, id, layer string) *Discarded {
	upper, tempDirs, ok := upperDir(store, layer)
	if !ok || !large(upper) {
		return nil
	}
	rm, err := exec.LookPath("rm")
	if err != nil || !filepath.IsAbs(rm) {
		return nil
	}
	if _, err := store.Unmount(id, true); err != nil {
		return nil
	}
	d, err := stage(tempDirs, upper)
	if err != nil {
		return nil
	}
	return d
}

// stage moves upper into a new staging directory below tempDirs, locked
// as storage locks its own.
func stage(tempDirs, upper string) (*Discarded, error) {
	if err := os.MkdirAll(tempDirs, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.CreateTemp(tempDirs, tempLockPrefix)
	if err != nil {
		return nil, err
	}
	// An open file description lock conflicts with storage's fcntl lock
	// and, unlike it, stays with the descriptor the remover inherits.
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(lock.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	d := &Discarded{lock: lock, from: upper}
	d.dir = filepath.Join(tempDirs, tempDirPrefix+strings.TrimPrefix(filepath.Base(lock.Name()), tempLockPrefix))
	if err := os.Mkdir(d.dir, 0o700); err != nil {
		d.drop()
		return nil, err
	}
	d.moved = filepath.Join(d.dir, "0-diff")
	if err := os.Rename(upper, d.moved); err != nil {
		d.drop()
		return nil, err
	}
	return d, nil
}

// drop removes the (empty or emptied) staging directory and its lock.
func (d *Discarded) drop() {
	_ = os.RemoveAll(d.dir)
	_ = os.Remove(d.lock.Name())
	d.lock.Close()
}

// Restore puts the upper directory back, for a container whose delete
// failed and which stays.
func (d *Discarded) Restore() error {
	if d == nil {
		return nil
	}
	err := os.Rename(d.moved, d.from)
	if err == nil {
		d.drop()
	}
	return err
}

// Remove starts the process that removes the staging directory and its
// lock, and returns without waiting for it: it holds the lock until it
// exits, in its own session, at a lower priority. Should it die part-way,
// the next lodger command that opens storage removes what is left. When
// it cannot be started, Remove removes everything itself.
func (d *Discarded) Remove() error {
	if d == nil {
		return nil
	}
	defer d.lock.Close()
	rm, err := exec.LookPath("rm")
	if err == nil {
		cmd := exec.Command(rm, "-rf", "--one-file-system", "--", d.dir, d.lock.Name())
		cmd.Env = []string{"LC_ALL=C"}
		cmd.ExtraFiles = []*os.File{d.lock}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err = cmd.Start(); err == nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, cmd.Process.Pid, 10)
			return cmd.Process.Release()
		}
	}
	if rerr := os.RemoveAll(d.dir); rerr != nil {
		return errors.Join(err, rerr)
	}
	return os.Remove(d.lock.Name())
}
