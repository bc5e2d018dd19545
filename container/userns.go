package container

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"

	"github.com/lodger-containers/lodger/rootless"
)

// User namespace modes for --userns.
const (
	UsernsDefault = ""        // the session's mapping: root inside is you outside
	UsernsKeepID  = "keep-id" // your own uid and gid inside
)

// keepID is the mapping of --userns=keep-id, in session ids: container
// uid U (the invoking user's) is session 0, which is the user on the host,
// so files the container writes in a bind mount belong to the user; the
// session's other ids fill the rest.
type keepID struct {
	uid, gid   uint32
	uids, gids []specs.LinuxIDMapping
}

// newKeepID builds the mapping from the session's own uid_map and gid_map.
func newKeepID() (*keepID, error) {
	if !rootless.InSession() {
		return nil, fmt.Errorf("--userns=keep-id needs the rootless session (run lodger as an unprivileged user)")
	}
	ue, err := extents("/proc/self/uid_map")
	if err != nil {
		return nil, err
	}
	ge, err := extents("/proc/self/gid_map")
	if err != nil {
		return nil, err
	}
	k := &keepID{uid: uint32(rootless.HostUID()), gid: uint32(rootless.HostGID())}
	if k.uids, err = keepIDMap(k.uid, ue); err != nil {
		return nil, fmt.Errorf("--userns=keep-id: uid %d: %w", k.uid, err)
	}
	if k.gids, err = keepIDMap(k.gid, ge); err != nil {
		return nil, fmt.Errorf("--userns=keep-id: gid %d: %w", k.gid, err)
	}
	return k, nil
}

// extent is a run of ids the session maps: [start, start+size).
type extent struct{ start, size uint32 }

// keepIDMap maps container id u to session 0, 0..u-1 to 1..u, and the rest
// of the session's ids to themselves. The kernel wants each line of a map
// inside one line of the parent's map, so the ranges are cut at the
// session's extents.
func keepIDMap(u uint32, session []extent) ([]specs.LinuxIDMapping, error) {
	var total uint64
	for _, e := range session {
		total += uint64(e.size)
	}
	if uint64(u) >= total {
		return nil, fmt.Errorf("the session maps only %d ids; add a larger range to /etc/subuid and /etc/subgid", total)
	}
	want := []specs.LinuxIDMapping{{ContainerID: u, HostID: 0, Size: 1}}
	if u > 0 {
		want = append(want, specs.LinuxIDMapping{ContainerID: 0, HostID: 1, Size: u})
	}
	if rest := total - uint64(u) - 1; rest > 0 {
		want = append(want, specs.LinuxIDMapping{ContainerID: u + 1, HostID: u + 1, Size: uint32(rest)})
	}
	var out []specs.LinuxIDMapping
	for _, w := range want {
		for _, e := range session {
			lo, hi := max(w.HostID, e.start), min(w.HostID+w.Size, e.start+e.size)
			if lo < hi {
				out = append(out, specs.LinuxIDMapping{ContainerID: w.ContainerID + (lo - w.HostID), HostID: lo, Size: hi - lo})
			}
		}
	}
	return out, nil
}

// extents reads the ids a map file gives this namespace (its first column
// and sizes).
func extents(path string) ([]extent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []extent
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(fields[0], 10, 32)
		size, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("parse %s: %q", path, s.Text())
		}
		out = append(out, extent{uint32(start), uint32(size)})
	}
	return out, s.Err()
}

// storageOptions asks storage for a copy of the image's layers whose file
// owners are shifted to match the mapping.
func (k *keepID) storageOptions() *cstorage.ContainerOptions {
	conv := func(m []specs.LinuxIDMapping) []idtools.IDMap {
		var out []idtools.IDMap
		for _, e := range m {
			out = append(out, idtools.IDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)})
		}
		return out
	}
	o := &cstorage.ContainerOptions{}
	o.UIDMap = conv(k.uids)
	o.GIDMap = conv(k.gids)
	return o
}

// apply gives the spec its own user namespace with the mapping.
func (k *keepID) apply(spec *specs.Spec) {
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = k.uids
	spec.Linux.GIDMappings = k.gids
}

// createOptions are the storage options for a container with mapping k
// (nil for the session's own mapping), removed when it exits with remove.
//
// A container removed at exit is volatile, as podman makes its --rm
// containers: storage keeps its record and its layer's in files it writes
// without fsync, and overlay mounts it with "volatile", whose unmount does
// not sync the upper filesystem. Its creation and removal then wait for
// no disk flush (issue 14: six fdatasyncs and a syncfs in each `run
// --rm`). What a power loss can cost is the record of a container that
// was to be removed anyway.
func createOptions(k *keepID, remove bool) *cstorage.ContainerOptions {
	if k == nil && !remove {
		return nil
	}
	o := &cstorage.ContainerOptions{}
	if k != nil {
		o = k.storageOptions()
	}
	o.Volatile = remove
	return o
}
