package container

import (
	"fmt"
	"slices"
	"strings"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// Change is one line of lodger diff: Kind is 'A' (added), 'C' (changed)
// or 'D' (deleted), as Docker prints them.
type Change struct {
	Kind byte
	Path string
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Diff lists what the container changed in its filesystem against its
// image: storage's changes of the container's layer against its parent,
// the image's top layer, as podman's diff reads them. The files lodger
// bind-mounts over (/etc/hosts, /etc/resolv.conf, /etc/hostname, volumes)
// are not the container's changes; an empty mount point lodger had to
// make for one is left out, as Docker keeps those in a layer of its own.
func Diff(store cstorage.Store, ref string) ([]Change, error) {
	c, err := store.Container(ref)
	if err != nil {
		return nil, fmt.Errorf("no such container %q: %w", ref, err)
	}
	changes, err := store.Changes("", c.LayerID)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", ref, err)
	}
	// The runtime mounts these whatever the spec says, making them when
	// the image has none.
	mountPoints := map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true, "/dev/shm": true, "/dev/mqueue": true}
	if spec, err := loadSpec(store, c.ID); err == nil {
		for _, m := range spec.Mounts {
			mountPoints[m.Destination] = true
		}
	}
	return diffLines(changes, mountPoints), nil
}

// diffLines turns storage's changes into Docker's lines, sorted by path,
// without the mount points (and the directories made only to hold them).
func diffLines(changes []archive.Change, mountPoints map[string]bool) []Change {
	out := make([]Change, 0, len(changes))
	for _, ch := range changes {
		if ch.Kind == archive.ChangeAdd && mountPoints[ch.Path] {
			continue
		}
		kind := byte('C')
		switch ch.Kind {
		case archive.ChangeAdd:
			kind = 'A'
		case archive.ChangeDelete:
			kind = 'D'
		}
		out = append(out, Change{Kind: kind, Path: ch.Path})
	}
	// A directory whose only changes below it are left-out mount points,
	// and directories added to hold them, was changed (or added, however
	// deep) for them.
	out = slices.DeleteFunc(out, func(c Change) bool {
		if c.Kind == 'D' {
			return false
		}
		held := false
		for _, ch := range changes {
			if !strings.HasPrefix(ch.Path, c.Path+"/") {
				continue
			}
			if ch.Kind != archive.ChangeAdd {
				return false
			}
			if mountPoints[ch.Path] {
				held = true
				continue
			}
			if !hasBelow(changes, ch.Path) {
				return false // something of its own, not a way to a mount point
			}
		}
		return held
	})
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// hasBelow says whether a change lies below dir.
func hasBelow(changes []archive.Change, dir string) bool {
	for _, ch := range changes {
		if strings.HasPrefix(ch.Path, dir+"/") {
			return true
		}
	}
	return false
}
