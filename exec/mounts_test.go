package exec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountSpec is a spec running /bin/tool in root with mounts.
func mountSpec(root string, mounts ...specs.Mount) *specs.Spec {
	return &specs.Spec{
		Root:    &specs.Root{Path: root},
		Process: &specs.Process{Args: []string{"/bin/tool"}, Cwd: "/"},
		Mounts:  mounts,
		Linux:   &specs.Linux{},
	}
}

// mountOps are the program's ops that mount, make mount points or remount
// the root, from the first user mount on, as "CODE arg arg...".
func mountOps(t *testing.T, b []byte, root string) []string {
	t.Helper()
	var out []string
	for _, op := range decode(t, b) {
		switch op.Code {
		case opMountIn, opMount, opDir, opFile:
		default:
			continue
		}
		args := make([]string, len(op.Args))
		for i, a := range op.Args {
			args[i] = strings.ReplaceAll(a, root, "ROOT")
		}
		out = append(out, string(op.Code)+" "+strings.Join(args, " "))
	}
	return out
}

func flagString(f uintptr) string { return strconv.FormatUint(uint64(f), 10) }

func TestCompileMounts(t *testing.T) {
	root := rootfs(t)
	host := t.TempDir()
	file := filepath.Join(host, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := mountSpec(root,
		specs.Mount{Destination: "/data/sub/f", Type: "bind", Source: file, Options: []string{"rbind"}},
		specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind", "ro", "nodev"}},
		specs.Mount{Destination: "/scratch/a/b", Type: "bind", Source: file},
		specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "size=1024", "mode=1777"}},
		specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2048"}},
		specs.Mount{Destination: "/dev/custom", Type: "bind", Source: file},
	)
	b, err := compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	ops := mountOps(t, b, root)
	bindRec := flagString(unix.MS_BIND | unix.MS_REC)
	remount := flagString(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NODEV | lockedFlags(host))
	want := []string{
		// Parents first; the /dev/shm of the spec replaces the init's.
		"I ROOT /data " + host + "  " + bindRec + "  ",
		"I ROOT /data   " + remount + "  ",
		"I ROOT /scratch tmpfs tmpfs " + flagString(unix.MS_NOSUID|unix.MS_NOEXEC) + " size=1024,mode=1777 ",
		"I ROOT /dev/shm tmpfs tmpfs 0 size=2048 ",
		// Below /dev, the init makes the mount point on its tmpfs.
		"F ROOT /dev/custom",
		"I ROOT /dev/custom " + file + "  " + bindRec + "  ",
		// Below a bind, the mount point is made in the host directory.
		"I ROOT /data/sub/f " + file + "  " + bindRec + "  ",
		// Below a tmpfs, by the init once the tmpfs is there.
		"D ROOT /scratch/a",
		"F ROOT /scratch/a/b",
		"I ROOT /scratch/a/b " + file + "  " + bindRec + "  ",
	}
	var got []string
	for _, op := range ops {
		if strings.Contains(op, "/data") || strings.Contains(op, "/scratch") || strings.Contains(op, "/dev/custom") ||
			strings.Contains(op, "/dev/shm") && !strings.HasPrefix(op, "D ") {
			got = append(got, op)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mount ops (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(filepath.Join(host, "sub", "f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("mount point below the bind not made in its source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "scratch", "a")); err == nil {
		t.Errorf("mount point below the tmpfs made in the image")
	}
	for _, op := range ops {
		if strings.Contains(op, "ROOT/dev/shm shm tmpfs") {
			t.Errorf("the init's own /dev/shm is still mounted: %s", op)
		}
		if strings.HasPrefix(op, "M  ROOT ") {
			t.Errorf("root remounted without --read-only: %s", op)
		}
	}
}

func TestCompileMountsSymlinkDestination(t *testing.T) {
	root := rootfs(t)
	if err := os.Symlink("/", filepath.Join(root, "to-root")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(root, "to-dotdot")); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	spec := mountSpec(root,
		specs.Mount{Destination: "/to-root/mnt", Type: "bind", Source: host},
		specs.Mount{Destination: "/to-dotdot/lodger-escape", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/escape/etc/x", Type: "tmpfs", Source: "tmpfs"},
	)
	b, err := compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, op := range decode(t, b) {
		if op.Code == opMountIn && op.Args[0] == root && !strings.HasPrefix(op.Args[1], "/proc") &&
			!strings.HasPrefix(op.Args[1], "/dev") && !strings.HasPrefix(op.Args[1], "/sys") {
			targets = append(targets, op.Args[1])
		}
	}
	if diff := cmp.Diff([]string{"/mnt", "/lodger-escape", "/etc/x"}, targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	for _, d := range []string{"mnt", "lodger-escape", "etc/x"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("mount point %s not made inside the rootfs: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "lodger-escape")); err == nil {
		t.Errorf("mount point made next to the rootfs")
	}
}

func TestCompileReadonlyRoot(t *testing.T) {
	root := rootfs(t)
	spec := mountSpec(root, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	spec.Root.Readonly = true
	b, err := compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	ops := decode(t, b)
	remount := -1
	pivot := -1
	for i, op := range ops {
		if op.Code == opMount && op.Args[1] == root && op.Args[0] == "" {
			flags, _ := strconv.ParseUint(op.Args[3], 10, 64)
			if flags&unix.MS_REMOUNT != 0 && flags&unix.MS_RDONLY != 0 && flags&unix.MS_BIND != 0 {
				remount = i
			}
		}
		if op.Code == opPivot {
			pivot = i
		}
		if op.Code == opMountIn && op.Args[1] == "/tmp" && remount >= 0 {
			t.Errorf("the /tmp tmpfs is mounted after the root became read-only")
		}
	}
	if remount < 0 || pivot < remount {
		t.Errorf("read-only remount of the root at op %d, pivot at %d: want a remount before the pivot", remount, pivot)
	}
}

func TestCompileMountErrors(t *testing.T) {
	root := rootfs(t)
	host := t.TempDir()
	file := filepath.Join(host, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(root, "etc/hosts")); err != nil {
		t.Fatal(err)
	}
	// lxcfs's files are let through, as runc does.
	if _, err := compile(mountSpec(root, specs.Mount{Destination: "/proc/meminfo", Type: "bind", Source: file})); err != nil {
		t.Errorf("bind over /proc/meminfo: %v", err)
	}
	for _, tt := range []struct {
		name string
		m    []specs.Mount
		word string
	}{
		{"unknown type", []specs.Mount{{Destination: "/x", Type: "nfs", Source: "srv:/x"}}, `type "nfs"`},
		{"unknown option", []specs.Mount{{Destination: "/x", Type: "bind", Source: host, Options: []string{"shared"}}}, `option "shared"`},
		{"tmpfs data on a bind", []specs.Mount{{Destination: "/x", Type: "bind", Source: host, Options: []string{"size=1"}}}, `option "size=1"`},
		{"missing source", []specs.Mount{{Destination: "/x", Type: "bind", Source: filepath.Join(host, "nope")}}, "bind source"},
		{"below a file", []specs.Mount{
			{Destination: "/f", Type: "bind", Source: file},
			{Destination: "/f/x", Type: "tmpfs", Source: "tmpfs"},
		}, "below the file"},
		{"directory onto a file", []specs.Mount{{Destination: "/bin/tool", Type: "bind", Source: host}}, "/bin/tool"},
		{"over /proc", []specs.Mount{{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}}, "inside /proc: refused"},
		{"below /proc", []specs.Mount{{Destination: "/proc/sys/kernel/core_pattern", Type: "bind", Source: file}}, "inside /proc: refused"},
		{"below /sys", []specs.Mount{{Destination: "/sys/firmware", Type: "tmpfs", Source: "tmpfs"}}, "inside /sys: refused"},
		// An image's /etc/hosts linked into /proc (evil-etchosts).
		{"link into /proc", []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: file}}, "resolves to /proc/sys/kernel/core_pattern"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(mountSpec(root, tt.m...))
			if err == nil || !strings.Contains(err.Error(), tt.word) {
				t.Errorf("compile = %v; want an error with %q", err, tt.word)
			}
		})
	}
}
