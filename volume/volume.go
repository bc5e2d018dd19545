// Package volume keeps lodger's named volumes: directories under the graph
// root that outlive the containers mounting them.
//
// A volume NAME lives in <graphroot>/volumes/NAME: its files in _data (the
// directory containers see) and its record in volume.json. Create, Remove,
// Prune and Claim take an exclusive flock on <graphroot>/volumes/.lock, so
// that a volume is never removed between a container choosing it and the
// container's record naming it. Which containers use which volume is the
// caller's knowledge (lodger keeps it in the container records); the Store
// asks for it through its Users function.
//
// Everything here runs inside the session user namespace, as its root, so
// the files copied into a volume keep the owners they had in the image.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lodger-containers/lodger/internal/prunefilter"
)

// DriverLocal is the only driver: a directory under the graph root.
const DriverLocal = "local"

// Errors callers branch on.
var (
	ErrNotFound    = errors.New("no such volume")
	ErrInUse       = errors.New("in use")
	ErrInvalidName = errors.New("invalid volume name")
)

// validName is Docker's rule for local volume names: at least two
// characters, so that a name never reads as a path or an option.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })

// ValidName reports whether name may name a volume.
func ValidName(name string) bool { return validName().MatchString(name) }

// Volume is a volume's record, as `volume inspect` shows it.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	// Anonymous volumes are made by `run -v /dst` and go with their
	// container on `rm -v` and `run --rm`.
	Anonymous bool `json:"Anonymous"`
}

// Users lists, for each volume name, the containers that use it.
type Users func() (map[string][]string, error)

// Store is the volumes of one graph root.
type Store struct {
	dir string
	// Users, when set, stops Remove and Prune from taking a volume a
	// container uses.
	Users Users
	// Event, when set, is told of each volume created and destroyed
	// (Docker's volume events), with the lock held.
	Event func(action string, v Volume)
}

func (s *Store) event(action string, v Volume) {
	if s.Event != nil {
		s.Event(action, v)
	}
}

// New returns the store of graphRoot. Nothing is created until a volume is.
func New(graphRoot string) *Store {
	return &Store{dir: filepath.Join(graphRoot, "volumes")}
}

// Dir is where the volumes live.
func (s *Store) Dir() string { return s.dir }

const (
	dataDir    = "_data"
	recordFile = "volume.json"
	lockFile   = ".lock"
	// trashPrefix names a volume directory being removed; it cannot be
	// a volume's name, which starts with a letter or digit.
	trashPrefix = ".removing-"
)

// Create makes a volume and returns its record. An empty name gets a
// random one. A volume that exists already is returned as it is, as
// Docker does.
func (s *Store) Create(name string, labels map[string]string) (Volume, error) {
	if name != "" && !ValidName(name) {
		return Volume{}, invalidName(name)
	}
	unlock, err := s.lock()
	if err != nil {
		return Volume{}, err
	}
	defer unlock()
	v, isNew, err := s.create(name, labels, false)
	if isNew {
		s.event("create", v)
	}
	return v, err
}

func invalidName(name string) error {
	return fmt.Errorf("%q: %w: use letters, digits, '_', '.' and '-', at least two, starting with a letter or digit", name, ErrInvalidName)
}

// create makes the volume with the lock held and reports whether it is
// new. An empty name is a random one.
func (s *Store) create(name string, labels map[string]string, anonymous bool) (Volume, bool, error) {
	if name == "" {
		name = randomName()
	} else if v, err := s.get(name); err == nil {
		return v, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Volume{}, false, err
	}
	dir := filepath.Join(s.dir, name)
	// A directory without a record is a creation that died halfway; it
	// is taken over.
	if err := os.MkdirAll(filepath.Join(dir, dataDir), 0o755); err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	v := Volume{
		Name:       name,
		Driver:     DriverLocal,
		Mountpoint: filepath.Join(dir, dataDir),
		CreatedAt:  time.Now().UTC().Truncate(time.Second),
		Labels:     labels,
		Scope:      "local",
		Anonymous:  anonymous,
	}
	if err := writeRecord(filepath.Join(dir, recordFile), v); err != nil {
		_ = os.RemoveAll(dir)
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return v, true, nil
}

// writeRecord replaces path atomically: temp file, fsync, rename.
func writeRecord(path string, v Volume) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".volume-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Get returns the volume called name.
func (s *Store) Get(name string) (Volume, error) {
	if !ValidName(name) {
		return Volume{}, fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	return s.get(name)
}

func (s *Store) get(name string) (Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name, recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Volume{}, fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Volume{}, fmt.Errorf("read volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return Volume{}, fmt.Errorf("read volume %s: %w", name, err)
	}
	// The record may predate a move of the graph root.
	v.Name = name
	v.Mountpoint = filepath.Join(s.dir, name, dataDir)
	return v, nil
}

// List returns every volume, by name.
func (s *Store) List() ([]Volume, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Volume
	for _, e := range ents {
		if !e.IsDir() || !ValidName(e.Name()) {
			continue
		}
		v, err := s.get(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // being created
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the volume called name and its files. It refuses a
// volume a container uses, whatever force says; force only makes a
// missing volume no error, as in Docker.
func (s *Store) Remove(name string, force bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.Get(name); err != nil {
		if force && errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	users, err := s.users()
	if err != nil {
		return err
	}
	if ids := users[name]; len(ids) > 0 {
		return fmt.Errorf("volume %s: %w by container %s", name, ErrInUse, strings.Join(shortIDs(ids), ", "))
	}
	return s.remove(name)
}

// remove deletes a volume with the lock held. The directory is renamed
// first, so that a removal cut short leaves no half-volume behind a name.
func (s *Store) remove(name string) error {
	v, _ := s.get(name)
	if err := s.removeQuietly(name); err != nil {
		return err
	}
	if v.Name != "" {
		s.event("destroy", v)
	}
	return nil
}

// removeQuietly is remove without the event: for a volume a failed
// claim made, which nobody saw created.
func (s *Store) removeQuietly(name string) error {
	dir := filepath.Join(s.dir, name)
	trash := filepath.Join(s.dir, trashPrefix+name+"-"+randomName()[:8])
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Populate copies src into the volume when it is empty, as the function
// Populate does, holding the lock: two containers that first mount a
// volume at the same time do not both copy.
func (s *Store) Populate(v Volume, src string) (bool, error) {
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	return Populate(v.Mountpoint, src)
}

// Pruned is what Prune removed.
type Pruned struct {
	Names []string
	// Bytes is the size of the files removed.
	Bytes int64
}

// Prune removes the anonymous volumes no container uses, or with all
// every volume no container uses (Docker 23 and later prune only
// anonymous volumes unless asked for all), of those f selects by their
// labels.
func (s *Store) Prune(all bool, f prunefilter.Filter) (Pruned, error) {
	var p Pruned
	unlock, err := s.lock()
	if err != nil {
		return p, err
	}
	defer unlock()
	vols, err := s.List()
	if err != nil {
		return p, err
	}
	users, err := s.users()
	if err != nil {
		return p, err
	}
	var errs []error
	for _, v := range vols {
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || !f.Match(v.CreatedAt, v.Labels) {
			continue
		}
		size := diskUsage(v.Mountpoint)
		if err := s.remove(v.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		p.Names = append(p.Names, v.Name)
		p.Bytes += size
	}
	s.sweep()
	return p, errors.Join(errs...)
}

// sweep finishes removals that were cut short.
func (s *Store) sweep() {
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			_ = os.RemoveAll(filepath.Join(s.dir, e.Name()))
		}
	}
}

func (s *Store) users() (map[string][]string, error) {
	if s.Users == nil {
		return nil, nil
	}
	u, err := s.Users()
	if err != nil {
		return nil, fmt.Errorf("find the containers using volumes: %w", err)
	}
	return u, nil
}

// Claim is a set of volumes held for a container being created: until
// Release, no Create, Remove or Prune runs, so none of them can go before
// the container's record names it.
type Claim struct {
	s       *Store
	vols    []Volume
	created []string
	unlock  func()
}

// Claim takes the lock and makes sure the named volumes exist, creating
// those that do not; an empty name is a new anonymous volume.
func (s *Store) Claim(names []string) (*Claim, error) {
	for _, n := range names {
		if n != "" && !ValidName(n) {
			return nil, invalidName(n)
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	c := &Claim{s: s, unlock: unlock}
	for _, n := range names {
		v, isNew, err := s.create(n, nil, n == "")
		if err != nil {
			c.Release(false)
			return nil, err
		}
		if isNew {
			c.created = append(c.created, v.Name)
		}
		c.vols = append(c.vols, v)
	}
	return c, nil
}

// Volumes are the claimed volumes, in the order asked for.
func (c *Claim) Volumes() []Volume { return slices.Clone(c.vols) }

// Release lets go of the lock. Unless the volumes were put to use, those
// the claim created are removed again.
func (c *Claim) Release(used bool) {
	if c.unlock == nil {
		return
	}
	for _, v := range c.vols {
		if !slices.Contains(c.created, v.Name) {
			continue
		}
		if used {
			c.s.event("create", v)
		} else {
			_ = c.s.removeQuietly(v.Name)
		}
	}
	c.unlock()
	c.unlock = nil
}

func randomName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if len(id) == 64 {
			id = id[:12]
		}
		out[i] = id
	}
	return out
}

// diskUsage sums the sizes of the files below dir; errors count as zero.
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Usage is the volumes' part of `system df`.
type Usage struct {
	Total, Active int // Active are used by a container
	// Size is that of the volumes' files; Reclaimable that of the volumes
	// no container uses.
	Size, Reclaimable int64
}

// DiskUsage measures the volumes.
func (s *Store) DiskUsage() (Usage, error) {
	var u Usage
	vols, err := s.List()
	if err != nil {
		return u, err
	}
	users, err := s.users()
	if err != nil {
		return u, err
	}
	for _, v := range vols {
		size := diskUsage(v.Mountpoint)
		u.Total++
		u.Size += size
		if len(users[v.Name]) > 0 {
			u.Active++
		} else {
			u.Reclaimable += size
		}
	}
	return u, nil
}
