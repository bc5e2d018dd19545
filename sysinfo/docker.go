package sysinfo

import (
	"os"
	"runtime"

	"github.com/moby/moby/api/types/system"
)

// Docker is what i says in Docker's info schema, the fields a script
// reads with `docker info --format '{{.Driver}}'` (issue 13). The
// container counts by state are the caller's to fill: i has the total
// only.
func (i *Info) Docker() system.Info {
	d := system.Info{
		Containers:      i.Storage.Containers,
		Images:          i.Storage.Images,
		Driver:          i.Storage.Driver,
		DriverStatus:    [][2]string{},
		DockerRootDir:   i.Storage.GraphRoot,
		KernelVersion:   i.Host.Kernel,
		OperatingSystem: i.Host.OS,
		OSType:          runtime.GOOS,
		Architecture:    i.Host.Arch,
		NCPU:            runtime.NumCPU(),
		ServerVersion:   i.Version,
		DefaultRuntime:  "lodger",
		CgroupDriver:    "none",
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=rootless"},
		Labels:          []string{},
		Warnings:        []string{},
		MemoryLimit:     i.Cgroups.Memory != "",
		PidsLimit:       i.Cgroups.Pids != "",
		CPUCfsQuota:     i.Cgroups.CPU != "",
		CPUCfsPeriod:    i.Cgroups.CPU != "",
	}
	switch i.Cgroups.Mode {
	case "v2":
		d.CgroupVersion = "2"
	case "v1", "hybrid":
		d.CgroupVersion = "1"
	}
	if d.MemoryLimit || d.PidsLimit || d.CPUCfsQuota || i.Cgroups.Freezer != "" {
		d.CgroupDriver = "cgroupfs"
	}
	if i.Host.Distribution != "" {
		d.OperatingSystem, d.OSVersion = i.Host.Distribution, i.Host.DistributionVersion
	}
	d.Name, _ = os.Hostname()
	d.MemTotal = memTotal()
	return d
}
