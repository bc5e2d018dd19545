package main

import (
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/container"
)

// mountFlags are run's -v, --mount, --tmpfs, --read-only,
// --read-only-tmpfs and --shm-size as typed; options parses them into
// the library's typed mounts.
type mountFlags struct {
	volumes, mounts, tmpfs  []string
	readOnly, readOnlyTmpfs bool
	shmSize                 string
}

// registerMountFlags adds the flags that give a container file systems.
func registerMountFlags(f *pflag.FlagSet, o *mountFlags) {
	f.StringArrayVarP(&o.volumes, "volume", "v", nil,
		"mount SRC:DST[:OPTS]: SRC an absolute host path or a volume name (created on first use), or DST alone for an anonymous volume; "+
			"OPTS: ro, rw, U (chown the source, recursively, to the container's user: on the host too), nocopy, [no]exec, [no]suid, [no]dev; "+
			"z and Z are accepted and ignored (no SELinux relabelling)")
	f.StringArrayVar(&o.mounts, "mount", nil,
		"mount type=bind|volume|tmpfs,source=SRC,target=DST[,readonly][,volume-nocopy][,tmpfs-size=SIZE][,tmpfs-mode=OCTAL][,bind-propagation=rprivate]")
	f.StringArrayVar(&o.tmpfs, "tmpfs", nil,
		"mount a tmpfs DST[:OPTS], OPTS from size=SIZE, mode=OCTAL, uid=, gid=, ro, [no]exec, [no]suid, [no]dev (default nosuid,nodev,noexec)")
	f.BoolVar(&o.readOnly, "read-only", false, "mount the container's root file system read-only (mounts in it stay writable)")
	f.BoolVar(&o.readOnlyTmpfs, "read-only-tmpfs", true, "with --read-only, mount writable tmpfs on /tmp and /run")
	f.StringVar(&o.shmSize, "shm-size", "64m", "size of /dev/shm (units k, m, g)")
}

// options parses the flags' grammar into the library's mounts; extra
// -v values (--device, --tz) come after the user's.
func (o mountFlags) options(extraVolumes ...string) (container.MountOptions, error) {
	mo := container.MountOptions{ReadOnly: o.readOnly, ReadOnlyTmpfs: o.readOnlyTmpfs}
	for _, list := range []struct {
		values []string
		parse  func(string) (container.Mount, error)
	}{{append(o.volumes, extraVolumes...), container.ParseVolume}, {o.mounts, container.ParseMount}, {o.tmpfs, container.ParseTmpfs}} {
		for _, v := range list.values {
			m, err := list.parse(v)
			if err != nil {
				return mo, err
			}
			mo.List = append(mo.List, m)
		}
	}
	if o.shmSize != "" {
		n, err := container.ParseShmSize(o.shmSize)
		if err != nil {
			return mo, err
		}
		mo.ShmSize = n
	}
	return mo, nil
}
