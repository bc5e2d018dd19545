package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitArg is argv[1] of the re-executed container init.
const InitArg = "_lodger-init"

// Inherited descriptors of the init, in ExtraFiles order.
const (
	fdSpec    = 3 // the spec, JSON, read to EOF
	fdSync    = 4 // close-on-exec; an initError on failure, EOF on exec
	fdConsole = 5 // unix socket for the pty master, with a terminal only
)

// initError is what the init reports before it gives up.
type initError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// InitMain is the container init. main dispatches here when os.Args[1] is
// InitArg; it never returns on success.
func InitMain() int {
	runtime.LockOSThread()
	sync := os.NewFile(fdSync, "sync")
	unix.CloseOnExec(fdSync)
	code, err := initContainer()
	if err != nil {
		b, _ := json.Marshal(initError{Code: code, Msg: err.Error()})
		_, _ = sync.Write(b)
	}
	return code
}

func initContainer() (int, error) {
	var spec specs.Spec
	f := os.NewFile(fdSpec, "spec")
	if err := json.NewDecoder(f).Decode(&spec); err != nil {
		return ExitLodger, fmt.Errorf("read spec: %w", err)
	}
	f.Close()
	if err := setupRootfs(&spec); err != nil {
		return ExitLodger, err
	}
	if spec.Process.Terminal {
		if err := setupConsole(); err != nil {
			return ExitLodger, err
		}
	}
	if err := setIdentity(spec.Process.User); err != nil {
		return ExitLodger, err
	}
	if err := unix.Chdir(spec.Process.Cwd); err != nil {
		return ExitCannotExec, fmt.Errorf("working directory %s: %w", spec.Process.Cwd, err)
	}
	path, code, err := lookExec(spec.Process.Args[0], spec.Process.Env)
	if err != nil {
		return code, err
	}
	// Only 0, 1 and 2 reach the container process; everything else lodger
	// holds (the spec pipe, storage locks, the sync pipe) closes on exec.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	err = unix.Exec(path, spec.Process.Args, spec.Process.Env)
	return execErrorCode(err), fmt.Errorf("exec %s: %w", spec.Process.Args[0], err)
}

// setupRootfs builds the container's view under spec.Root.Path and
// pivot_roots into it.
func setupRootfs(spec *specs.Spec) error {
	// Nothing mounted here may propagate back to the session namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := spec.Root.Path
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind root %s: %w", root, err)
	}
	newNet := hasNamespace(spec, specs.NetworkNamespace)
	for _, m := range baseMounts(newNet) {
		if err := mountIn(root, m); err != nil {
			return err
		}
	}
	if err := setupDev(root); err != nil {
		return err
	}
	for _, m := range spec.Mounts {
		if err := mountIn(root, m); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	cwd, err := securejoin.SecureJoin(root, spec.Process.Cwd)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", spec.Process.Cwd, err)
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("create working directory %s: %w", spec.Process.Cwd, err)
	}
	if err := pivotRoot(root); err != nil {
		return err
	}
	if newNet {
		if err := loopbackUp(); err != nil {
			return err
		}
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

// baseMounts are the kernel filesystems every container gets. A sysfs can
// only be mounted by the owner of the network namespace; with the host's
// network lodger binds the host's /sys read-only instead.
func baseMounts(newNet bool) []specs.Mount {
	sys := specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
	if !newNet {
		sys = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		sys,
	}
}

var mountFlags = map[string]uintptr{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "strictatime": unix.MS_STRICTATIME,
	"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
}

// mountIn mounts m at its destination resolved inside root: a destination
// that is a symlink in the image resolves within the rootfs, never to a
// host path.
func mountIn(root string, m specs.Mount) error {
	dst, err := securejoin.SecureJoin(root, m.Destination)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			flags |= f
		} else if o != "rw" {
			data = append(data, o)
		}
	}
	bind := flags&unix.MS_BIND != 0
	if err := makeTarget(dst, bind, m.Source); err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	err = unix.Mount(m.Source, dst, m.Type, flags&^unix.MS_RDONLY|roUnlessBind(flags), strings.Join(data, ","))
	if err != nil && m.Type == "devpts" {
		// gid=5 needs group 5 mapped; a single-id session has only 0.
		err = unix.Mount(m.Source, dst, m.Type, flags, strings.Join(without(data, "gid=5"), ","))
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, err)
	}
	if bind && flags&unix.MS_RDONLY != 0 {
		// A bind mount takes its flags only on a remount.
		rflags := unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | flags&(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
		if err := unix.Mount("", dst, "", uintptr(rflags), ""); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("remount %s read-only: %w", m.Destination, err)
		}
	}
	return nil
}

func roUnlessBind(flags uintptr) uintptr {
	if flags&unix.MS_BIND != 0 {
		return 0
	}
	return flags & unix.MS_RDONLY
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// makeTarget creates the mount point: a directory, or an empty file when a
// non-directory is bound onto it.
func makeTarget(dst string, bind bool, src string) error {
	if bind {
		if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			fi, err := os.Lstat(dst)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				return f.Close()
			case err != nil:
				return err
			case !fi.Mode().IsRegular():
				return &fs.PathError{Op: "mount over", Path: dst, Err: errors.New("not a regular file in the image")}
			}
			return nil
		}
	}
	return os.MkdirAll(dst, 0o755)
}

// setupDev populates the container's /dev tmpfs. An unprivileged user
// namespace cannot mknod, so the host's device nodes are bind-mounted.
func setupDev(root string) error {
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		dst := filepath.Join(root, "dev", name)
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
		f.Close()
		if err := unix.Mount("/dev/"+name, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", name, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(root, "dev", l[1])); err != nil {
			return fmt.Errorf("link /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// pivotRoot makes root the process's root and detaches the old one, using
// the pivot_root(".", ".") form that needs no directory for the old root.
func pivotRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// loopbackUp brings up lo in a fresh network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

func setIdentity(u specs.User) error {
	groups := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil && !(len(groups) == 0 && errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("set supplementary groups %v: %w", groups, err)
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("set gid %d: %w (is it inside the mapped range?)", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("set uid %d: %w (is it inside the mapped range?)", u.UID, err)
	}
	return nil
}

// lookExec resolves the command as execvp would, with the container's PATH,
// and maps failures to Docker's codes: 127 not found, 126 not executable.
func lookExec(name string, env []string) (string, int, error) {
	if strings.Contains(name, "/") {
		err := checkExec(name)
		switch {
		case err == nil:
			return name, 0, nil
		case errors.Is(err, fs.ErrNotExist):
			return "", ExitNotFound, err
		default:
			return "", ExitCannotExec, err
		}
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := checkExec(p)
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

func checkExec(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return &fs.PathError{Op: "exec", Path: p, Err: errors.New("is a directory")}
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return &fs.PathError{Op: "exec", Path: p, Err: err}
	}
	return nil
}

func execErrorCode(err error) int {
	if errors.Is(err, unix.ENOENT) {
		return ExitNotFound
	}
	return ExitCannotExec
}
