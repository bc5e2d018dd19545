package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/volume"
)

// Kinds of mount a container takes.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// DefaultShmSize is the size of /dev/shm unless asked otherwise, as in
// Docker.
const DefaultShmSize = 64 << 20

// MountOptions give a container file systems.
type MountOptions struct {
	// List is the mounts asked for (-v, --mount, --tmpfs; the API's
	// Binds, Mounts and Tmpfs), parsed by the front end.
	List []Mount
	// ReadOnly mounts the root file system read-only (--read-only).
	ReadOnly bool
	// ReadOnlyTmpfs puts writable tmpfs on /tmp and /run when ReadOnly
	// (--read-only-tmpfs, on by default in the CLI as in podman).
	ReadOnlyTmpfs bool
	// ShmSize is the size of /dev/shm in bytes; 0 means DefaultShmSize.
	ShmSize int64
}

// Mount is one file system asked for (package mountspec parses Docker's
// string forms into one).
type Mount struct {
	Type string
	// Source is the host path of a bind, the name of a volume ("" for a
	// new anonymous one), nothing for tmpfs.
	Source      string
	Destination string
	ReadOnly    bool
	// Options are for the runtime: nosuid, nodev, noexec and, for tmpfs,
	// size= and mode= and their kin.
	Options []string
	// Chown gives the source to the container's user first (the U option).
	Chown bool
	// NoCopy leaves an empty volume empty rather than copying the
	// image's content at Destination into it.
	NoCopy bool
	// Origin is what the front end made the mount from, in its own
	// words (-v /a:/b, Binds "/a:/b"), for messages.
	Origin string
}

// mountPlan is the container's file systems, checked.
type mountPlan struct {
	mounts   []Mount
	readOnly bool
}

// plan checks the mounts asked for: bind sources that
// exist, one mount per destination. It runs before anything is pulled or
// created, so that bad input leaves nothing behind.
func (o MountOptions) plan() (mountPlan, error) {
	var p mountPlan
	p.readOnly = o.ReadOnly
	p.mounts = slices.Clone(o.List)
	byDst := map[string]string{}
	for _, m := range p.mounts {
		if prev, dup := byDst[m.Destination]; dup {
			return p, fmt.Errorf("%s: duplicate mount destination %s (also given by %s)", m.Origin, m.Destination, prev)
		}
		byDst[m.Destination] = m.Origin
		if m.Type != MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
			return p, fmt.Errorf("%s: bind source %s does not exist", m.Origin, m.Source)
		} else if err != nil {
			return p, fmt.Errorf("%s: bind source: %w", m.Origin, err)
		}
	}
	shm := int64(DefaultShmSize)
	if o.ShmSize > 0 {
		shm = o.ShmSize
	}
	// The user's own mounts win over lodger's.
	add := func(m Mount) {
		if _, taken := byDst[m.Destination]; !taken {
			p.mounts = append(p.mounts, m)
		}
	}
	add(Mount{Type: MountTmpfs, Destination: "/dev/shm", Origin: "/dev/shm",
		Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}})
	if o.ReadOnly && o.ReadOnlyTmpfs {
		for _, d := range []string{"/tmp", "/run"} {
			add(Mount{Type: MountTmpfs, Destination: d, Origin: "the read-only root file system's " + d, Options: []string{"nosuid", "nodev"}})
		}
	}
	return p, nil
}

// volumeNames are the volumes the plan mounts, in order; "" is a new
// anonymous volume.
func (p mountPlan) volumeNames() []string {
	var out []string
	for _, m := range p.mounts {
		if m.Type == MountVolume {
			out = append(out, m.Source)
		}
	}
	return out
}

// specMounts turns the plan into runtime mounts, with vols the volumes
// of volumeNames in the same order, after lodger's own mounts (its /etc
// files) that no user mount replaces.
func (p mountPlan) specMounts(own []specs.Mount, vols []volume.Volume) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range p.mounts {
		taken[m.Destination] = true
	}
	var out []specs.Mount
	for _, m := range own {
		if !taken[path.Clean(m.Destination)] {
			out = append(out, m)
		}
	}
	i := 0
	for _, m := range p.mounts {
		sm := specs.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source}
		switch m.Type {
		case MountVolume:
			sm.Type, sm.Source = "bind", vols[i].Mountpoint
			i++
			fallthrough
		case MountBind:
			sm.Options = []string{"rbind"}
		case MountTmpfs:
			sm.Source = "tmpfs"
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		sm.Options = append(sm.Options, m.Options...)
		out = append(out, sm)
	}
	return out
}
