package sysinfo

import (
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
