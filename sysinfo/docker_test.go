package sysinfo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lodger-containers/lodger/cgroups"
)

func TestDocker(t *testing.T) {
	i := &Info{Version: "1.2.3", Host: Host{Kernel: "6.1.0", OS: "Debian GNU/Linux 12", Arch: "x86_64"},
		Storage: Storage{Driver: "overlay", GraphRoot: "/home/u/.local/share/lodger/storage", Images: 3, Containers: 2},
		Cgroups: Cgroups{Report: cgroups.Report{Mode: "hybrid", Pids: "/sys/fs/cgroup/pids/u"}}}
	d := i.Docker()
	if d.Driver != "overlay" || d.Images != 3 || d.Containers != 2 || d.DockerRootDir != i.Storage.GraphRoot ||
		d.KernelVersion != "6.1.0" || d.OperatingSystem != "Debian GNU/Linux 12" || d.OSType != "linux" ||
		d.Architecture != "x86_64" || d.ServerVersion != "1.2.3" || d.NCPU < 1 || d.MemTotal <= 0 {
		t.Errorf("Docker() = %+v", d)
	}
	if d.CgroupVersion != "1" || d.CgroupDriver != "cgroupfs" || !d.PidsLimit || d.MemoryLimit {
		t.Errorf("cgroups: version %q driver %q pids %v memory %v; want 1, cgroupfs, pids only",
			d.CgroupVersion, d.CgroupDriver, d.PidsLimit, d.MemoryLimit)
	}
}

// TestOSRelease: Docker's info shows os-release's PRETTY_NAME as the
// operating system and VERSION_ID as its version; the first file that
// exists is read.
func TestOSRelease(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "os-release")
	if err := os.WriteFile(p, []byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID='12'\n# c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name, version := osRelease(filepath.Join(dir, "missing"), p)
	if name != "Debian GNU/Linux 12 (bookworm)" || version != "12" {
		t.Errorf("osRelease = %q %q", name, version)
	}
	i := &Info{Host: Host{OS: "linux", Distribution: name, DistributionVersion: version}}
	if d := i.Docker(); d.OperatingSystem != name || d.OSVersion != "12" {
		t.Errorf("Docker() OperatingSystem %q OSVersion %q", d.OperatingSystem, d.OSVersion)
	}
	if n, v := osRelease(filepath.Join(dir, "missing")); n != "" || v != "" {
		t.Errorf("osRelease of nothing = %q %q", n, v)
	}
}
