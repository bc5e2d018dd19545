// Package sysinfo gathers what `lodger info` reports: the kernel, the id
// mapping, how the session's user namespace is made, storage, and what the
// network backend needs from the host.
package sysinfo

import (
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/rootless"
	"github.com/lodger-containers/lodger/rootless/session"
	"github.com/lodger-containers/lodger/storage"
)

// Info is the report.
type Info struct {
	Version string         `json:"version"`
	Host    Host           `json:"host"`
	IDMap   rootless.IDMap `json:"idMap"`
	Session session.Report `json:"session"`
	Storage Storage        `json:"storage"`
	Network Network        `json:"network"`
	Cgroups Cgroups        `json:"cgroups"`
}

// Cgroups says what lodger can do with this machine's control groups:
// how pause stops a container and where stats reads its figures.
type Cgroups struct {
	cgroups.Report
	Pause string `json:"pause"`
	Stats string `json:"stats"`
	// Limits lists which of --memory, --cpus and --pids-limit can be
	// applied; the others are warned about, never silently ignored.
	Limits string `json:"limits"`
}

// Host describes the machine and the invoking user.
type Host struct {
	Kernel    string `json:"kernel"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Rootless  bool   `json:"rootless"`
	User      string `json:"user"`
	UID       int    `json:"uid"`
	GID       int    `json:"gid"`
	NewUIDMap string `json:"newuidmap"`
	// Distribution is os-release's PRETTY_NAME and DistributionVersion its
	// VERSION_ID: Docker's info shows them as the operating system.
	Distribution        string `json:"distribution,omitempty"`
	DistributionVersion string `json:"distributionVersion,omitempty"`
}

// Storage describes the store.
type Storage struct {
	Driver     string `json:"driver"`
	GraphRoot  string `json:"graphRoot"`
	RunRoot    string `json:"runRoot"`
	Images     int    `json:"images"`
	Containers int    `json:"containers"`
}

// Network lists the host facilities the userspace network depends on.
type Network struct {
	Tun                   string `json:"tun"`
	PingGroupRange        string `json:"pingGroupRange"`
	UnprivilegedPortStart int    `json:"unprivilegedPortStart"`
}

// Collect builds the report for an open store; with a nil store (no
// session could be made, so none can be opened) it reports the rest.
func Collect(store cstorage.Store) (*Info, error) {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	ids, err := rootless.LoadIDMap()
	if err != nil {
		return nil, err
	}
	nuid, _ := osexec.LookPath("newuidmap")
	info := &Info{
		Host: Host{
			Kernel:    unix.ByteSliceToString(uts.Release[:]),
			OS:        runtime.GOOS,
			Arch:      runtime.GOARCH,
			Rootless:  !rootless.IsRealRoot(),
			User:      ids.User,
			UID:       rootless.HostUID(),
			GID:       rootless.HostGID(),
			NewUIDMap: nuid,
		},
		IDMap:   ids,
		Session: session.Describe(),
		Network: Network{
			Tun:                   tunStatus(),
			PingGroupRange:        readSysctl("net/ipv4/ping_group_range"),
			UnprivilegedPortStart: atoi(readSysctl("net/ipv4/ip_unprivileged_port_start")),
		},
	}
	info.Host.Distribution, info.Host.DistributionVersion = osRelease("/etc/os-release", "/usr/lib/os-release")
	cg := cgroups.Detect()
	info.Cgroups = Cgroups{Report: cg, Pause: cg.PauseMechanism(), Stats: cg.StatsSource(), Limits: cg.LimitsText()}
	if store == nil {
		return info, nil
	}
	info.Storage = Storage{
		Driver:    storage.DriverName(store),
		GraphRoot: store.GraphRoot(),
		RunRoot:   store.RunRoot(),
	}
	if imgs, err := store.Images(); err == nil {
		info.Storage.Images = len(imgs)
	}
	if ctrs, err := store.Containers(); err == nil {
		info.Storage.Containers = len(ctrs)
	}
	return info, nil
}

func tunStatus() string {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return "not usable: " + err.Error() + " (make it mode 0666, or load the tun module)"
	}
	f.Close()
	return "ok"
}

func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// osRelease reads PRETTY_NAME and VERSION_ID from the first of paths
// that exists (os-release(5)); empty when none does.
func osRelease(paths ...string) (name, version string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			} else {
				v = strings.Trim(v, `"'`)
			}
			switch k {
			case "PRETTY_NAME":
				name = v
			case "VERSION_ID":
				version = v
			}
		}
		return name, version
	}
	return "", ""
}
