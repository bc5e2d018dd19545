package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/moby/moby/api/types/mount"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/volume"
)

// VolumeStore returns the volumes of store's graph root, knowing which
// containers use which volume from the container records.
func VolumeStore(store cstorage.Store) *volume.Store {
	vs := volume.New(store.GraphRoot())
	vs.Event = func(action string, v volume.Volume) {
		Journal().Emit(events.Volume, action, v.Name, map[string]string{"driver": v.Driver})
	}
	vs.Users = func() (map[string][]string, error) {
		ctrs, err := store.Containers()
		if err != nil {
			return nil, err
		}
		users := map[string][]string{}
		for _, c := range ctrs {
			for _, v := range ContainerVolumes(&c) {
				users[v] = append(users[v], c.ID)
			}
		}
		return users, nil
	}
	return vs
}

// ContainerVolumes are the volumes a container record names.
func ContainerVolumes(c *cstorage.Container) []string {
	var m Metadata
	_ = json.Unmarshal([]byte(c.Metadata), &m)
	return m.Volumes
}

// RemoveAnonymousVolumes removes the anonymous volumes among names (those
// of a removed container, as `rm -v` and `run --rm` do); one that another
// container still uses, or that is gone already, is left alone.
func RemoveAnonymousVolumes(store cstorage.Store, names []string) error {
	vs := VolumeStore(store)
	var errs []error
	for _, n := range names {
		v, err := vs.Get(n)
		if err != nil || !v.Anonymous {
			continue
		}
		if err := vs.Remove(n, true); err != nil && !errors.Is(err, volume.ErrInUse) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// volumeClaim holds the plan's volumes while the container record that
// names them is written.
type volumeClaim struct {
	*volume.Claim
	vs *volume.Store
}

func claimVolumes(store cstorage.Store, p mountPlan) (volumeClaim, error) {
	vs := VolumeStore(store)
	c, err := vs.Claim(p.volumeNames())
	if err != nil {
		return volumeClaim{}, fmt.Errorf("volumes: %w", err)
	}
	return volumeClaim{c, vs}, nil
}

// names are the claimed volumes' names, for the container record.
func (c volumeClaim) names() []string {
	var out []string
	for _, v := range c.Volumes() {
		out = append(out, v.Name)
	}
	return out
}

// mounts prepares the plan's sources in the mounted rootfs and returns the
// runtime mounts, lodger's own first: an empty volume gets the image's
// content at its destination (unless nocopy), and a source with the U
// option is given to the container's user.
func (c volumeClaim) mounts(p mountPlan, rootfs string, user specs.User, own []specs.Mount) ([]specs.Mount, error) {
	vols := c.Volumes()
	i := 0
	for _, m := range p.mounts {
		var src string
		switch m.Type {
		case MountVolume:
			v := vols[i]
			i++
			src = v.Mountpoint
			if m.NoCopy {
				break
			}
			from, err := securejoin.SecureJoin(rootfs, m.Destination)
			if err != nil {
				return nil, fmt.Errorf("%s: resolve %s in the image: %w", m.Origin, m.Destination, err)
			}
			if _, err := c.vs.Populate(v, from); err != nil {
				return nil, fmt.Errorf("%s: populate volume %s: %w", m.Origin, v.Name, err)
			}
		case MountBind:
			src = m.Source
		}
		if m.Chown && src != "" {
			if err := volume.Chown(src, int(user.UID), int(user.GID)); err != nil {
				return nil, fmt.Errorf("%s: option U: %w", m.Origin, err)
			}
		}
	}
	return p.specMounts(own, vols), nil
}

// emitVolumeMounts writes Docker's volume mount event for each volume the
// container id mounts, as each start of it does, and returns their names
// for the unmount events its end writes (monitor.VolumeUnmounts).
func emitVolumeMounts(id string, spec *specs.Spec, volumes []string) []string {
	if len(volumes) == 0 {
		return nil
	}
	var mounted []string
	names := map[string]bool{}
	for _, v := range volumes {
		names[v] = true
	}
	for _, sm := range spec.Mounts {
		mp, ok := mountPoint(sm, names)
		if !ok || mp.Type != mount.TypeVolume {
			continue
		}
		Journal().Emit(events.Volume, "mount", mp.Name, map[string]string{"driver": mp.Driver, "container": id,
			"destination": mp.Destination, "read/write": strconv.FormatBool(mp.RW), "propagation": string(mp.Propagation)})
		mounted = append(mounted, mp.Name)
	}
	return mounted
}
