package exec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// backing says what shows at a mount's target once it is mounted, which
// decides where the mount points of mounts below it are made.
type backing int

const (
	backedByImage  backing = iota // nothing mounted: the image's own tree
	backedByDir                   // a bind of a host directory or volume
	backedByFile                  // a bind of a single file
	backedByTmpfs                 // a fresh tmpfs, empty until the init fills it
	backedByKernel                // /proc or /sys: no mount may go there
)

// mounted is a mount already in the program.
type mounted struct {
	dest    string // the destination asked for, cleaned
	target  string // where the init mounts it, inside the root
	source  string // the host directory of a backedByDir mount
	backing backing
}

// mountCompiler adds mounts to a program, remembering those added so that
// a mount below another gets its mount point in what the container will
// see there, not in the image underneath.
type mountCompiler struct {
	p    *program
	root string
	in   func(string) (string, error)
	done []mounted
}

// compileMounts adds spec's mounts, parents before children (by the depth
// of the destination, as Docker orders them). dev is the target of the
// init's own /dev tmpfs, below which mount points are made by the init.
func compileMounts(p *program, root string, in func(string) (string, error), dev string, mounts []specs.Mount) error {
	mc := &mountCompiler{p: p, root: root, in: in, done: []mounted{{dest: "/dev", target: dev, backing: backedByTmpfs}}}
	for _, d := range []string{"/proc", "/sys"} {
		hp, err := in(d)
		if err != nil {
			return err
		}
		mc.done = append(mc.done, mounted{dest: d, target: mc.inRoot(hp), backing: backedByKernel})
	}
	sorted := slices.Clone(mounts)
	slices.SortStableFunc(sorted, func(a, b specs.Mount) int {
		return depth(a.Destination) - depth(b.Destination)
	})
	for _, m := range sorted {
		if err := compileBind(mc, m); err != nil {
			return err
		}
	}
	return nil
}

func depth(p string) int {
	p = path.Clean("/" + p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// compileBind adds one mount: a bind of a host file or directory (options
// ro, nosuid, nodev, noexec) or a tmpfs (those, and size=, mode=, uid=,
// gid=, nr_inodes=), creating its mount point first. The init resolves
// the target again, inside the root, at mount time: a volume shared with
// a running container may have changed since (CVE-2021-30465).
func compileBind(mc *mountCompiler, m specs.Mount) error {
	flags, data, err := mountOptions(m)
	if err != nil {
		return err
	}
	b := backedByTmpfs
	source := ""
	switch m.Type {
	case "bind":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		b = backedByFile
		if fi.IsDir() {
			b, source = backedByDir, m.Source
		}
	case "tmpfs":
	default:
		return fmt.Errorf("mount %s: type %q is not supported", m.Destination, m.Type)
	}
	target, err := mc.mountPoint(path.Clean(m.Destination), b != backedByFile)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", m.Destination, err)
	}
	if m.Type == "tmpfs" {
		mc.p.mountIn(mc.root, target, "tmpfs", "tmpfs", flags, data, fallbackNone)
	} else {
		mc.p.mountIn(mc.root, target, m.Source, "", unix.MS_BIND|unix.MS_REC, "", fallbackNone)
		// A bind takes its flags from the source's mount; ro, nosuid and
		// the like need a remount, which must repeat the flags the user
		// namespace locked there or fail with EPERM.
		if flags != 0 {
			mc.p.mountIn(mc.root, target, "", "", unix.MS_REMOUNT|unix.MS_BIND|flags|lockedFlags(m.Source), "", fallbackNone)
		}
	}
	mc.done = append(mc.done, mounted{dest: path.Clean(m.Destination), target: target, source: source, backing: b})
	return nil
}

// mountOptions splits a mount's options into mount flags and, for tmpfs,
// file system data.
func mountOptions(m specs.Mount) (uintptr, string, error) {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		key, _, hasVal := strings.Cut(o, "=")
		switch {
		case o == "bind" || o == "rbind" || o == "rprivate" || o == "private" || o == "rw" ||
			o == "exec" || o == "suid" || o == "dev":
			// Binds are always recursive and private; the rest are
			// the defaults.
		case o == "ro":
			flags |= unix.MS_RDONLY
		case o == "nosuid":
			flags |= unix.MS_NOSUID
		case o == "nodev":
			flags |= unix.MS_NODEV
		case o == "noexec":
			flags |= unix.MS_NOEXEC
		case m.Type == "tmpfs" && hasVal && slices.Contains([]string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}, key):
			data = append(data, o)
		default:
			return 0, "", fmt.Errorf("mount %s: option %q is not supported", m.Destination, o)
		}
	}
	return flags, strings.Join(data, ","), nil
}

// mountPoint makes the mount point of dest and returns the path inside
// the root where the init mounts it.
func (mc *mountCompiler) mountPoint(dest string, dir bool) (string, error) {
	if parent, rest, ok := mc.below(dest, func(m mounted) string { return m.dest }); ok {
		return mc.mountPointIn(parent, rest, dir)
	}
	hp, err := mc.in(dest)
	if err != nil {
		return "", err
	}
	target := mc.inRoot(hp)
	// A symlink in the image may lead below another mount.
	if parent, rest, ok := mc.below(target, func(m mounted) string { return m.target }); ok {
		return mc.mountPointIn(parent, rest, dir)
	}
	if err := makeMountPoint(mc.root, hp, dir); err != nil {
		return "", err
	}
	return target, nil
}

// inRoot is the path inside the root of a host path below it.
func (mc *mountCompiler) inRoot(hp string) string {
	if r, err := filepath.Rel(mc.root, hp); err == nil && r != "." && !strings.HasPrefix(r, "..") {
		return "/" + r
	}
	return "/"
}

// below finds the deepest mount done whose key path holds p, and the rest
// of p below it.
func (mc *mountCompiler) below(p string, key func(mounted) string) (mounted, string, bool) {
	var best mounted
	bestLen := -1
	for _, m := range mc.done {
		k := key(m)
		if p != k && !strings.HasPrefix(p, k+"/") {
			continue
		}
		if len(k) > bestLen {
			best, bestLen = m, len(k)
		}
	}
	if bestLen < 0 {
		return mounted{}, "", false
	}
	return best, strings.TrimPrefix(strings.TrimPrefix(p, key(best)), "/"), true
}

// mountPointIn makes a mount point rest below the mount parent: in the
// host directory a bind shows there (Docker and runc do the same), or, on
// a tmpfs, by the init once the tmpfs is mounted.
func (mc *mountCompiler) mountPointIn(parent mounted, rest string, dir bool) (string, error) {
	if rest == "" && parent.backing != backedByKernel {
		return parent.target, nil
	}
	switch parent.backing {
	case backedByKernel:
		// Over /proc or /sys a mount could hide what is masked or undo
		// what is read-only (an image's /etc/hosts linked to
		// /proc/sys/kernel/core_pattern, say); only runc's list of files
		// that lxcfs and the like provide is let through.
		p := path.Join(parent.target, rest)
		if !slices.Contains(procFilesAllowed, p) {
			return "", fmt.Errorf("resolves to %s, inside %s: refused", p, parent.dest)
		}
		return p, nil
	case backedByFile:
		return "", fmt.Errorf("below the file mounted at %s", parent.dest)
	case backedByDir:
		hp, err := securejoin.SecureJoin(parent.source, rest)
		if err != nil {
			return "", err
		}
		if err := makeMountPoint(parent.source, hp, dir); err != nil {
			return "", err
		}
		r, err := filepath.Rel(parent.source, hp)
		if err != nil {
			return "", err
		}
		return path.Join(parent.target, r), nil
	}
	// A fresh tmpfs: nothing has run in it yet, but the path to it may
	// lie in a volume another container shares and can change, so the
	// init makes each mount point beneath the root with no symlink on
	// the way (op_dir and op_file with two arguments; issue 12).
	target := parent.target
	parts := strings.Split(rest, "/")
	for i, part := range parts {
		target = path.Join(target, part)
		if i < len(parts)-1 || dir {
			mc.p.op(opDir, mc.root, target)
		} else {
			mc.p.op(opFile, mc.root, target)
		}
	}
	return target, nil
}

// procFilesAllowed are the /proc files a bind may cover, as runc allows.
var procFilesAllowed = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
}

// hasMount reports whether spec mounts something at dest.
func hasMount(spec *specs.Spec, dest string) bool {
	for _, m := range spec.Mounts {
		if path.Clean(m.Destination) == dest {
			return true
		}
	}
	return false
}

// compileReadonlyRoot remounts the root read-only when the spec asks,
// after every other mount: those below it (volumes, tmpfs, /dev) stay as
// they are.
func compileReadonlyRoot(p *program, spec *specs.Spec) {
	if spec.Root == nil || !spec.Root.Readonly {
		return
	}
	root := spec.Root.Path
	p.mount("", root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|lockedFlags(root), "", fallbackNone)
}

// lockedFlags are the flags of the mount holding p that a bind remount
// must repeat: a user namespace cannot clear a flag it inherited from a
// more privileged mount namespace (nosuid on /home, say), nor change
// its atime behaviour.
func lockedFlags(p string) uintptr {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return 0
	}
	var flags uintptr
	for _, f := range []struct {
		st    int64
		mount uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= f.mount
		}
	}
	// Without either flag the mount is strictatime; a remount that does
	// not say so would make it relatime.
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return flags
}
