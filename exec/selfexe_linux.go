package exec

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/rootless"
)

// initBinary returns the path the container init is executed from: this
// program's binary (lodger, or lodger-monitor for a detached container)
// seen through a read-only bind mount in the session mount namespace,
// one per binary (lodger-init.ro, lodger-monitor-init.ro). A container
// process that gets hold of the init's /proc/PID/exe (CVE-2019-5736) then
// reaches the file through that mount and cannot open it for writing, even
// when the binary belongs to the user who runs lodger. The mount costs a
// stat per run once it exists; it is redone when the binary on disk
// changes. Each binary has its own, or lodger and its monitors would
// replace each other's mount on every run.
//
// Real root runs in the host's mount namespace, where such a mount would
// outlive lodger; it runs /proc/self/exe as before.
func initBinary() (string, error) {
	if !rootless.InSession() {
		return "/proc/self/exe", nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	target := filepath.Join(rootless.RunDir(), filepath.Base(self)+"-init.ro")
	if sealed(self, target) {
		return target, nil
	}
	// Concurrent first runs would otherwise unmount each other's fresh
	// mount just before exec.
	lock, err := os.OpenFile(target+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("prepare read-only init binary: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("prepare read-only init binary: %w", err)
	}
	if sealed(self, target) {
		return target, nil
	}
	_ = unix.Unmount(target, unix.MNT_DETACH)
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o500)
	if err != nil {
		return "", fmt.Errorf("prepare read-only init binary: %w", err)
	}
	f.Close()
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind lodger binary read-only: %w", err)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		_ = unix.Unmount(target, unix.MNT_DETACH)
		return "", fmt.Errorf("bind lodger binary read-only: %w", err)
	}
	return target, nil
}

// sealed reports whether target is already a read-only mount of self.
func sealed(self, target string) bool {
	var a, b unix.Stat_t
	if unix.Stat(self, &a) != nil || unix.Stat(target, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		return false
	}
	var fs unix.Statfs_t
	return unix.Statfs(target, &fs) == nil && fs.Flags&unix.ST_RDONLY != 0
}
