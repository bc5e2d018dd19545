package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/exec/seccomp"
)

// InitArg is argv[1] of the re-executed container init (exec/nsinit).
const InitArg = "_lodger-init"

// Inherited descriptors of the init, in ExtraFiles order.
const (
	fdProgram = 3 // the init program, read to EOF
	fdSync    = 4 // close-on-exec; "CODE MESSAGE" on failure, EOF on exec
	fdSocket  = 5 // unix socket for the pty master and the connect listener, or /dev/null
)

// compile turns spec into the init program. Everything that needs a
// decision happens here, in the parent, before any container process
// exists: paths are resolved inside the root filesystem (a symlink in the
// image cannot send a mount or a mkdir to a host path), mount points and
// the working directory are created, and the command is looked up in the
// image with its PATH, so that 126 and 127 are known before starting.
func compile(spec *specs.Spec) ([]byte, error) {
	return compileWith(spec, nil, false)
}

// compileWith is compile, with the container's calls named in trap
// (connect, accept) handed to a seccomp listener when the container has a
// network namespace of its own (see Hooks.Connect), and, with wait, the
// init stopping for lodger's go-ahead once its mounts are made (see
// Start). A program that joins a running container's namespaces never
// waits.
func compileWith(spec *specs.Spec, trap []string, wait bool) ([]byte, error) {
	if joins := joined(spec); len(joins) > 0 {
		return compileJoin(spec, joins)
	}
	root := spec.Root.Path
	proc := spec.Process
	exe, code, err := lookExec(root, spec.Mounts, proc.Args[0], proc.Env, proc.User)
	if err != nil {
		return nil, &ExitError{code, err}
	}
	in := func(p string) (string, error) {
		hp, err := securejoin.SecureJoin(root, p)
		if err != nil {
			return "", fmt.Errorf("resolve %s in the image: %w", p, err)
		}
		return hp, nil
	}
	// rel is the container path of a host path inside root, for mounts the
	// init resolves itself.
	rel := func(hp string) string {
		r, err := filepath.Rel(root, hp)
		if err != nil {
			return hp
		}
		return "/" + r
	}
	var p program
	// Nothing mounted from here on may propagate back to the session.
	p.mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "", fallbackNone)
	p.mount(root, root, "", unix.MS_BIND|unix.MS_REC, "", fallbackNone)

	newNet := hasNamespace(spec, specs.NetworkNamespace)
	dirs := map[string]string{}
	for _, d := range []string{"/proc", "/dev", "/sys"} {
		// An image whose /proc, /dev or /sys is anything but a directory
		// would move where the kernel filesystems (and the masks over
		// them) land (CVE-2025-31133, CVE-2025-52565): refused.
		if fi, err := os.Lstat(filepath.Join(root, d)); err == nil && !fi.IsDir() {
			return nil, &ExitError{ExitLodger, fmt.Errorf("the image's %s is a %s, not a directory: refused", d, kind(fi))}
		}
		hp, err := in(d)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(hp, 0o755); err != nil {
			return nil, fmt.Errorf("create %s in the image: %w", d, err)
		}
		dirs[d] = hp
	}
	const nsn = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	// A procfs can only be mounted by the owner of the pid namespace; with
	// the host's (--pid host) the session's /proc is bound instead.
	if hasNamespace(spec, specs.PIDNamespace) {
		p.mountIn(root, rel(dirs["/proc"]), "proc", "proc", nsn, "", fallbackNone)
	} else {
		p.mountIn(root, rel(dirs["/proc"]), "/proc", "", unix.MS_BIND|unix.MS_REC, "", fallbackNone)
	}
	dev := dirs["/dev"]
	p.mountIn(root, rel(dev), "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k", fallbackNone)
	for _, d := range []string{"pts", "shm", "mqueue"} {
		p.op(opDir, filepath.Join(dev, d))
	}
	// gid=5 (tty) needs group 5 mapped; a single-id session has only 0.
	pts := "newinstance,ptmxmode=0666,mode=0620"
	p.mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, pts+",gid=5", "="+pts)
	// A /dev/shm in the spec (--shm-size) replaces this one.
	if !hasMount(spec, "/dev/shm") {
		p.mount("shm", filepath.Join(dev, "shm"), "tmpfs", nsn, "mode=1777,size=65536k", fallbackNone)
	}
	if hasNamespace(spec, specs.IPCNamespace) {
		p.mount("mqueue", filepath.Join(dev, "mqueue"), "mqueue", nsn, "", fallbackNone)
	} else if _, err := os.Stat("/dev/mqueue/"); err == nil {
		p.mount("/dev/mqueue", filepath.Join(dev, "mqueue"), "", unix.MS_BIND, "", fallbackNone)
	}
	// A user namespace cannot mknod; the host's device nodes are bound in.
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p.op(opFile, filepath.Join(dev, name))
		p.mount("/dev/"+name, filepath.Join(dev, name), "", unix.MS_BIND, "", fallbackNone)
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
	} {
		p.op(opSymlink, l[0], filepath.Join(dev, l[1]))
	}
	// sysfs can only be mounted by the owner of the network namespace; with
	// the host's network the host's /sys is bound read-only instead.
	if newNet {
		p.mountIn(root, rel(dirs["/sys"]), "sysfs", "sysfs", nsn|unix.MS_RDONLY, "", fallbackNone)
	} else {
		p.mountIn(root, rel(dirs["/sys"]), "/sys", "", unix.MS_BIND|unix.MS_REC, "", fallbackNone)
		// Read-only all the way down: the host's /sys has mounts under it
		// (cgroups), and a remount reaches only the top one.
		p.op(opReadonlyTree, root, rel(dirs["/sys"]))
	}

	if err := compileMounts(&p, root, in, rel(dev), spec.Mounts); err != nil {
		return nil, err
	}
	// The mounts need nothing of the start hooks, which give the network
	// namespace its interfaces: they overlap. A sysctl may (one of eth0),
	// so with sysctls the init waits before them, else once its root is
	// in place, before anything of the container's process.
	waitHere := wait && spec.Linux != nil && len(spec.Linux.Sysctl) > 0
	if waitHere {
		p.op(opWait)
	}
	// Sysctls go in while /proc/sys is the container's own, before the
	// masks and read-only paths over it (issue 13).
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		keys := slices.Sorted(maps.Keys(spec.Linux.Sysctl))
		for _, k := range keys {
			p.op(opSysctl, root, rel(dirs["/proc"])+"/sys/"+strings.ReplaceAll(k, ".", "/"), spec.Linux.Sysctl[k])
		}
	}
	if spec.Linux != nil {
		for _, list := range []struct {
			op    byte
			paths []string
		}{{opMask, spec.Linux.MaskedPaths}, {opReadonly, spec.Linux.ReadonlyPaths}} {
			// Resolved by the init inside the root after /proc and /sys
			// are mounted, never through the image's own tree, which
			// could hold links planted there.
			for _, mp := range list.paths {
				p.op(list.op, root, mp)
			}
		}
	}
	if spec.Hostname != "" && hasNamespace(spec, specs.UTSNamespace) {
		p.op(opHostname, spec.Hostname)
	}
	wd, err := in(proc.Cwd)
	if err != nil {
		return nil, err
	}
	// The working directory as it resolves inside the image. Under /proc
	// it could name a descriptor lodger holds and lead outside the
	// container (CVE-2024-21626), so it is refused, whatever symlink led
	// there.
	cwd := rel(wd)
	if cwd == "/proc" || strings.HasPrefix(cwd, "/proc/") {
		return nil, &ExitError{ExitLodger, fmt.Errorf("working directory %s resolves to %s, inside /proc: refused", proc.Cwd, cwd)}
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return nil, fmt.Errorf("create working directory %s: %w", proc.Cwd, err)
	}
	compileReadonlyRoot(&p, spec)
	p.op(opPivot, root)
	if newNet {
		p.op(opLoopback)
	}
	if wait && !waitHere {
		p.op(opWait)
	}
	if len(trap) > 0 && newNet {
		// Its own filter, before the user's profile (compileProcess):
		// installing it needs CAP_SYS_ADMIN, which the init still has,
		// and the kernel lets the profile's ERRNO or KILL for connect
		// win over the notification. An unconfined container gets it
		// too. The listener leaves on fd 5 before a pty master does.
		filter, err := seccomp.Notify(trap...)
		if err != nil {
			return nil, err
		}
		p.op(opConnectTrap, string(filter))
	}
	if err := compileProcess(&p, spec, cwd, exe); err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}

// compileProcess adds what turns the init into the container's process:
// terminal, capabilities, seccomp, limits, identity, working directory and
// the exec itself. run and exec share it.
func compileProcess(p *program, spec *specs.Spec, cwd, exe string) error {
	proc := spec.Process
	if proc.Terminal {
		p.op(opTerminal)
	}
	caps := DefaultCapabilities
	if proc.Capabilities != nil {
		caps = proc.Capabilities.Bounding
	}
	keep, err := capMask(caps)
	if err != nil {
		return err
	}
	p.op(opBounding, strconv.FormatUint(keep, 10))
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		filter, err := seccomp.Compile(spec.Linux.Seccomp)
		if err != nil {
			return err
		}
		p.op(opSeccomp, string(filter))
	}
	ids := []string{strconv.FormatUint(uint64(proc.User.UID), 10), strconv.FormatUint(uint64(proc.User.GID), 10)}
	for _, g := range proc.User.AdditionalGids {
		ids = append(ids, strconv.FormatUint(uint64(g), 10))
	}
	for _, rl := range proc.Rlimits {
		res, ok := rlimitByName[rl.Type]
		if !ok {
			return &ExitError{ExitLodger, fmt.Errorf("unknown rlimit %s", rl.Type)}
		}
		p.op(opRlimit, strconv.Itoa(res), rlimitValue(rl.Soft), rlimitValue(rl.Hard))
	}
	// A non-root user gets only the capabilities it asked for (--cap-add),
	// as ambient ones: they must be permitted and inheritable too.
	var ambient uint64
	if proc.User.UID != 0 && proc.Capabilities != nil {
		if ambient, err = capMask(proc.Capabilities.Ambient); err != nil {
			return err
		}
		ambient &= keep
	}
	if ambient != 0 {
		p.op(opKeepCaps)
	}
	p.op(opIdentity, ids...)
	// Root keeps the bounding set as its effective and permitted sets; any
	// other user gets none but the ambient ones. (setresuid clears them
	// only on a change away from uid 0, and in a --userns=keep-id namespace
	// the init starts as the user already.)
	effective := keep
	if proc.User.UID != 0 {
		effective = ambient
	}
	p.op(opCapset, strconv.FormatUint(effective, 10), strconv.FormatUint(ambient, 10))
	if ambient != 0 {
		p.op(opAmbient, strconv.FormatUint(ambient, 10))
	}
	if proc.NoNewPrivileges {
		p.op(opNoNewPrivs)
	}
	if spec.Annotations[AnnotationInit] == "true" {
		p.op(opReaper)
	}
	p.op(opChdir, cwd)
	p.exec(exe, proc.Args, proc.Env)
	return nil
}

func kind(fi os.FileInfo) string {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return "symlink"
	case fi.Mode().IsRegular():
		return "regular file"
	}
	return "special file"
}

// AnnotationInit asks for a reaper as pid 1 (--init).
const AnnotationInit = "io.lodger.init"

// rlimitByName maps OCI rlimit names to resource numbers.
var rlimitByName = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

func rlimitValue(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "-1"
	}
	return strconv.FormatUint(v, 10)
}

// makeMountPoint creates an empty directory or file at dst, a path inside
// root, every component opened by handle inside root (openat2
// RESOLVE_IN_ROOT): a directory that a running container sharing the
// volume swaps for a symlink cannot send the mkdir or create to the host
// (CVE-2021-30465). An existing entry of the wrong kind (a FIFO, a device)
// is refused rather than mounted over.
func makeMountPoint(root, dst string, dir bool) error {
	rel, err := filepath.Rel(root, dst)
	if err != nil || strings.HasPrefix(rel, "..") {
		return &fs.PathError{Op: "mount point", Path: dst, Err: errors.New("outside the root")}
	}
	if dir {
		return pathrs.MkdirAll(root, rel, 0o755)
	}
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer rootDir.Close()
	parent, err := pathrs.MkdirAllHandle(rootDir, filepath.Dir(rel), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(rel)
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err == nil {
		return unix.Close(fd)
	}
	if !errors.Is(err, unix.EEXIST) {
		return &fs.PathError{Op: "create mount point", Path: dst, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(parent.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "mount over", Path: dst, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &fs.PathError{Op: "mount over", Path: dst, Err: errors.New("not a regular file in the image")}
	}
	return nil
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

// lookExec resolves the command inside root as execvp would with the
// container's PATH, and returns the path to exec inside the container.
// Failures carry Docker's codes: 127 not found, 126 not executable.
func lookExec(root string, mounts []specs.Mount, name string, env []string, u specs.User) (string, int, error) {
	check := func(p string) error {
		hp, err := hostPath(root, mounts, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(hp)
		if err != nil {
			return &fs.PathError{Op: "exec", Path: p, Err: fs.ErrNotExist}
		}
		if fi.IsDir() {
			return &fs.PathError{Op: "exec", Path: p, Err: errors.New("is a directory")}
		}
		if !executableBy(fi, u) {
			return &fs.PathError{Op: "exec", Path: p, Err: fs.ErrPermission}
		}
		return nil
	}
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join("/", p)
		}
		err := check(p)
		switch {
		case err == nil:
			return name, 0, nil
		case errors.Is(err, fs.ErrNotExist):
			return "", ExitNotFound, err
		default:
			return "", ExitCannotExec, err
		}
	}
	search := strings.TrimPrefix(defaultPath, "PATH=")
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			search = v
		}
	}
	var denied error
	for _, dir := range strings.Split(search, ":") {
		if dir == "" || !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, name)
		err := check(p)
		if err == nil {
			return p, 0, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", ExitCannotExec, denied
	}
	return "", ExitNotFound, fmt.Errorf("%s: executable file not found in $PATH", name)
}

// hostPath is where container path p is on the host before the container
// exists: under the bind mount with the longest destination that holds
// it (a command mounted in with -v), else in the root filesystem; each
// resolved inside its own tree.
func hostPath(root string, mounts []specs.Mount, p string) (string, error) {
	best := -1
	for i, m := range mounts {
		if m.Type != "bind" || m.Source == "" {
			continue
		}
		d := path.Clean("/" + m.Destination)
		if (p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/")) && (best < 0 || len(d) > len(path.Clean("/"+mounts[best].Destination))) {
			best = i
		}
	}
	if best < 0 {
		return securejoin.SecureJoin(root, p)
	}
	m := mounts[best]
	rel := strings.TrimPrefix(p, path.Clean("/"+m.Destination))
	if rel == "" {
		// The mount is the file itself (-v /host/tool:/usr/bin/tool).
		return m.Source, nil
	}
	return securejoin.SecureJoin(m.Source, rel)
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// executableBy applies the permission bits as the kernel would for u (root
// in the container needs any execute bit).
func executableBy(fi fs.FileInfo, u specs.User) bool {
	mode := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode&0o111 != 0
	}
	switch {
	case u.UID == 0:
		return mode&0o111 != 0
	case st.Uid == u.UID:
		return mode&0o100 != 0
	case st.Gid == u.GID || containsGID(u.AdditionalGids, st.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func containsGID(gids []uint32, g uint32) bool {
	for _, x := range gids {
		if x == g {
			return true
		}
	}
	return false
}
