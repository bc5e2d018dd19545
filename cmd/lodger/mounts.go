package main

import (
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/container"
)

// registerMountFlags adds the flags that give a container file systems:
// run's -v, --mount, --tmpfs, --read-only, --read-only-tmpfs and
// --shm-size.
func registerMountFlags(f *pflag.FlagSet, o *container.MountOptions) {
	f.StringArrayVarP(&o.Volumes, "volume", "v", nil,
		"mount SRC:DST[:OPTS]: SRC an absolute host path or a volume name (created on first use), or DST alone for an anonymous volume; "+
			"OPTS: ro, rw, U (chown the source, recursively, to the container's user: on the host too), nocopy, [no]exec, [no]suid, [no]dev; "+
			"z and Z are accepted and ignored (no SELinux relabelling)")
	f.StringArrayVar(&o.Mounts, "mount", nil,
		"mount type=bind|volume|tmpfs,source=SRC,target=DST[,readonly][,volume-nocopy][,tmpfs-size=SIZE][,tmpfs-mode=OCTAL][,bind-propagation=rprivate]")
	f.StringArrayVar(&o.Tmpfs, "tmpfs", nil,
		"mount a tmpfs DST[:OPTS], OPTS from size=SIZE, mode=OCTAL, uid=, gid=, ro, [no]exec, [no]suid, [no]dev (default nosuid,nodev,noexec)")
	f.BoolVar(&o.ReadOnly, "read-only", false, "mount the container's root file system read-only (mounts in it stay writable)")
	f.BoolVar(&o.ReadOnlyTmpfs, "read-only-tmpfs", true, "with --read-only, mount writable tmpfs on /tmp and /run")
	f.StringVar(&o.ShmSize, "shm-size", "64m", "size of /dev/shm (units k, m, g)")
}
