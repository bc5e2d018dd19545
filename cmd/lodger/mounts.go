package main

import (
	"errors"
	"fmt"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/mountspec"
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
		form   mountspec.Form
		values []string
	}{{mountspec.Volume, append(o.volumes, extraVolumes...)}, {mountspec.Mount, o.mounts}, {mountspec.Tmpfs, o.tmpfs}} {
		for _, v := range list.values {
			m, err := parseMountFlag(list.form, v)
			if err != nil {
				return mo, err
			}
			mo.List = append(mo.List, m)
		}
	}
	if o.shmSize != "" {
		n, err := parseShmSize(o.shmSize)
		if err != nil {
			return mo, err
		}
		mo.ShmSize = n
	}
	return mo, nil
}

// mountFlagNames are the flags of mountspec's forms.
var mountFlagNames = map[mountspec.Form]string{mountspec.Volume: "-v", mountspec.Mount: "--mount", mountspec.Tmpfs: "--tmpfs"}

// parseMountFlag parses v, a value of the flag of form, and names that
// flag: in the mount, for the library's later messages, and in a syntax
// error.
func parseMountFlag(form mountspec.Form, v string) (container.Mount, error) {
	m, err := mountspec.Parse(form, v)
	var se *mountspec.Error
	if errors.As(err, &se) {
		return m, fmt.Errorf("%s %q: %s", mountFlagNames[se.Form], se.Value, se.Reason)
	} else if err != nil {
		return m, err
	}
	m.Origin = mountFlagNames[form] + " " + v
	return m, nil
}

// parseShmSize parses a --shm-size value such as 64m or 1g into bytes.
func parseShmSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--shm-size %q: want a positive size such as 64m or 1g", v)
	}
	return n, nil
}
