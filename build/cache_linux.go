package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// The build cache, as `system df`, `builder prune` and `system prune`
// see it: the directories of RUN --mount=type=cache, which live under
// the graph root from build to build, and the images of build steps.

// cacheRoot is where cache mounts live.
func cacheRoot(store cstorage.Store) string {
	return filepath.Join(store.GraphRoot(), "build-cache")
}

// DiskUsage measures the cache mounts.
func DiskUsage(store cstorage.Store) (CacheUsage, error) {
	var u CacheUsage
	mounts, err := cacheMounts(store)
	if err != nil {
		return u, err
	}
	for _, m := range mounts {
		u.Total++
		size := dirSize(m.dir)
		u.Size += size
		inUse := m.inUse()
		if inUse {
			u.Active++
		} else {
			u.Reclaimable += size
		}
		u.Mounts = append(u.Mounts, CacheMount{ID: m.id, Size: size, InUse: inUse, LastUsed: m.used})
	}
	return u, nil
}

// Prune removes the cache mounts no build uses now and the images of
// build steps no tagged image is built on (with All, every untagged step
// image: tagged images keep their layers, the cache goes).
func Prune(store cstorage.Store, o PruneOptions) (PruneReport, error) {
	var rep PruneReport
	mounts, err := cacheMounts(store)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, m := range mounts {
		if !o.Filter.Match(m.used, nil) {
			continue
		}
		// Held for the removal, so that no build takes it meanwhile.
		lock, ok := m.lock()
		if !ok {
			continue
		}
		size := dirSize(m.dir)
		err := os.RemoveAll(m.dir)
		if err == nil {
			err = os.Remove(m.dir + ".lock")
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
		lock.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cache mount %s: %w", m.id, err))
			continue
		}
		rep.Removed = append(rep.Removed, m.id)
		rep.Reclaimed += size
	}
	n, freed, err := pruneSteps(store, o)
	rep.Removed = append(rep.Removed, n...)
	rep.Reclaimed += freed
	errs = append(errs, err)
	return rep, errors.Join(errs...)
}

// pruneSteps removes untagged step images no container uses: the leaves
// (no image built on them), again and again, or with o.All every one.
func pruneSteps(store cstorage.Store, o PruneOptions) ([]string, int64, error) {
	before := layerBytes(store)
	var removed []string
	var errs []error
	failed := map[string]bool{}
	for {
		imgs, err := store.Images()
		if err != nil {
			return removed, 0, fmt.Errorf("list images: %w", err)
		}
		ctrs, err := store.Containers()
		if err != nil {
			return removed, 0, fmt.Errorf("list containers: %w", err)
		}
		used := map[string]bool{}
		for _, c := range ctrs {
			used[c.ImageID] = true
		}
		// An image is a parent when a step image records it as such or
		// when another image's top layer sits on its own.
		parents := map[string]bool{}
		for _, img := range imgs {
			if p := stepParent(img); p != "" {
				parents[p] = true
			}
		}
		progress := false
		for _, img := range imgs {
			if failed[img.ID] || used[img.ID] || len(img.Names) > 0 || !strings.Contains(img.Metadata, "lodger.buildCacheKey") {
				continue
			}
			if !o.All && parents[img.ID] {
				continue
			}
			if !o.Filter.Match(img.Created, nil) {
				continue
			}
			if _, err := store.DeleteImage(img.ID, true); err != nil {
				if !errors.Is(err, cstorage.ErrImageUnknown) {
					errs = append(errs, fmt.Errorf("remove build step image %s: %w", short(img.ID), err))
				}
				failed[img.ID] = true
				continue
			}
			removed = append(removed, "sha256:"+img.ID)
			progress = true
		}
		if !progress {
			break
		}
	}
	var freed int64
	if after := layerBytes(store); after < before {
		freed = before - after
	}
	return removed, freed, errors.Join(errs...)
}

func stepParent(img cstorage.Image) string {
	if !strings.Contains(img.Metadata, "lodger.parent") {
		return ""
	}
	var m cacheMeta
	if json.Unmarshal([]byte(img.Metadata), &m) != nil {
		return ""
	}
	return m.Parent
}

func layerBytes(store cstorage.Store) int64 {
	layers, err := store.Layers()
	if err != nil {
		return 0
	}
	var n int64
	for _, l := range layers {
		if l.UncompressedSize > 0 {
			n += l.UncompressedSize
		}
	}
	return n
}

// cacheMount is one cache mount's directory.
type cacheMount struct {
	id   string
	dir  string
	used time.Time // when a build last took it
}

func cacheMounts(store cstorage.Store) ([]cacheMount, error) {
	root := cacheRoot(store)
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read build cache: %w", err)
	}
	var out []cacheMount
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m := cacheMount{id: e.Name(), dir: filepath.Join(root, e.Name())}
		// The lock file's time is the last use: cacheDir touches it.
		if fi, err := os.Stat(m.dir + ".lock"); err == nil {
			m.used = fi.ModTime()
		} else if fi, err := e.Info(); err == nil {
			m.used = fi.ModTime()
		}
		out = append(out, m)
	}
	return out, nil
}

// lock takes the mount's lock without waiting; false while a build
// holds it (every RUN that mounts it holds it, shared or exclusive).
func (m cacheMount) lock() (*os.File, bool) {
	f, err := os.OpenFile(m.dir+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

func (m cacheMount) inUse() bool {
	f, ok := m.lock()
	if ok {
		f.Close()
	}
	return !ok
}

// dirSize sums the sizes of the files below dir, each inode once.
func dirSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*unix.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
			n += st.Blocks * 512
			return nil
		}
		n += fi.Size()
		return nil
	})
	return n
}
