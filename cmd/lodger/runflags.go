package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/mountspec"
)

// everydayOptions are Docker's everyday run and create flags that lodger
// turns into mounts, metadata or a warning (issue 13).
type everydayOptions struct {
	cidfile     string
	devices     []string
	tz          string
	stopTimeout int
	memory      string
	cpus        float64
	pidsLimit   int64
	sysctls     []string
	expose      []string
	oomScoreAdj int

	// cidWritten says the container ID went into cidfile, which must then
	// stay; otherwise finish removes the file create reserved.
	cidWritten bool
	cidOpen    *os.File
}

func registerEverydayFlags(f *pflag.FlagSet, o *everydayOptions) {
	f.StringVar(&o.cidfile, "cidfile", "", "write the container ID to this file (refused when it exists)")
	f.StringArrayVar(&o.devices, "device", nil, "bind a host device you can open into the container: HOST[:CTR][:PERMS], PERMS of r, w, m")
	f.StringVar(&o.tz, "tz", "", "time zone of the container: local (the host's) or an Area/City of the host's zoneinfo")
	f.IntVar(&o.stopTimeout, "stop-timeout", 10, "seconds stop waits for the stop signal before SIGKILL")
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit (units b, k, m, g); applied where a writable memory cgroup is delegated, else a warning")
	f.Float64Var(&o.cpus, "cpus", 0, "CPU limit in CPUs; applied where a writable cpu cgroup is delegated, else a warning")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "process limit (0 or -1: none); applied where a writable pids cgroup is delegated, else a warning")
	f.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "the container's OOM score adjustment, -1000 to 1000; rootless, only raising it above your own works")
	f.StringArrayVar(&o.expose, "expose", nil, "expose a port or range, PORT[/PROTO] or START-END[/PROTO], for -P to publish")
	f.StringArrayVar(&o.sysctls, "sysctl", nil, "set a namespaced sysctl NAME=VALUE: net.* (not with --network host), kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*")
}

// apply checks the flags and puts them into ro; warnings go to stderr.
// Call finish when create is over.
func (o *everydayOptions) apply(flags *pflag.FlagSet, ro *container.RunOptions, stderr io.Writer) error {
	if flags.Changed("stop-timeout") {
		t := o.stopTimeout
		ro.StopTimeout = &t
	}
	if flags.Changed("oom-score-adj") {
		a := o.oomScoreAdj
		ro.Process.OOMScoreAdj = &a
	}
	for _, d := range o.devices {
		v, warn, err := deviceVolume(d)
		if err != nil {
			return err
		}
		if warn != "" {
			fmt.Fprintln(stderr, "lodger: warning: "+warn)
		}
		m, err := parseMountFlag(mountspec.Volume, v)
		if err != nil {
			return err
		}
		ro.Mounts.List = append(ro.Mounts.List, m)
	}
	sysctls, err := container.ParseSysctls(o.sysctls, ro.Network, ro.Process.IPC)
	if err != nil {
		return err
	}
	ro.Sysctls = sysctls
	ro.Expose = o.expose
	if o.tz != "" {
		v, err := tzVolume(o.tz)
		if err != nil {
			return err
		}
		m, err := parseMountFlag(mountspec.Volume, v)
		if err != nil {
			return err
		}
		ro.Mounts.List = append(ro.Mounts.List, m)
	}
	if w, err := o.limits(flags, ro, cgroups.Detect); err != nil {
		return err
	} else if w != "" {
		fmt.Fprintln(stderr, "lodger: warning: "+w)
	}
	if o.cidfile != "" {
		// Docker's rule: an existing file is refused, so that two
		// containers never share one.
		f, err := os.OpenFile(o.cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", o.cidfile)
		}
		if err != nil {
			return fmt.Errorf("--cidfile: %w", err)
		}
		o.cidOpen = f
		ro.Created = func(id string) {
			if _, err := f.WriteString(id); err == nil {
				o.cidWritten = true
			}
			f.Close()
		}
	}
	return nil
}

// finish removes the cidfile when no container was created.
func (o *everydayOptions) finish() {
	if o.cidOpen != nil && !o.cidWritten {
		o.cidOpen.Close()
		os.Remove(o.cidfile)
	}
}

// limits parses --memory, --cpus and --pids-limit into ro's Limits and
// says which of them cannot be applied here: those whose controller no
// cgroup delegated to the user offers, warned about on one line, never
// silently ignored (issue 13). detect, which reads the cgroup mounts, is
// called only when one was given, so a plain run pays nothing for it.
func (o *everydayOptions) limits(flags *pflag.FlagSet, ro *container.RunOptions, detect func() cgroups.Report) (string, error) {
	l := &ro.Limits
	if flags.Changed("memory") {
		n, err := units.RAMInBytes(o.memory)
		if err != nil {
			return "", fmt.Errorf("--memory %q: %w", o.memory, err)
		}
		l.Memory = n
	}
	if flags.Changed("cpus") {
		if o.cpus <= 0 {
			return "", fmt.Errorf("--cpus %v: must be more than 0", o.cpus)
		}
		l.NanoCPUs = int64(o.cpus * 1e9)
	}
	if flags.Changed("pids-limit") {
		l.Pids = o.pidsLimit
		if l.Pids <= 0 {
			l.Pids = -1 // Docker's 0 and -1: unlimited
		}
	}
	if l.IsZero() {
		return "", nil
	}
	r := detect()
	missing := r.Missing(*l)
	if len(missing) == 0 {
		return "", nil
	}
	flag := map[string]string{cgroups.Memory: "--memory", cgroups.CPU: "--cpus", cgroups.Pids: "--pids-limit"}
	var given []string
	for _, c := range missing {
		given = append(given, flag[c])
	}
	return strings.Join(given, ", ") + " not applied: " + r.LimitsReason(missing...), nil
}

// deviceVolume turns --device HOST[:CTR][:PERMS] into a bind of the device
// node, after checking that the user can open it as PERMS asks: in a user
// namespace nothing can be created with mknod, and a device the user
// cannot open would only fail inside the container. Docker enforces PERMS
// with the device cgroup, which a rootless container has not: PERMS other
// than the default are warned about (the bind is read-only without w,
// which stops nothing a device node allows).
func deviceVolume(spec string) (vol, warn string, err error) {
	parts := strings.Split(spec, ":")
	host, ctr, perms := parts[0], parts[0], "rwm"
	switch len(parts) {
	case 1:
	case 2:
		if isDevicePerms(parts[1]) {
			perms = parts[1]
		} else {
			ctr = parts[1]
		}
	case 3:
		ctr, perms = parts[1], parts[2]
	default:
		return "", "", fmt.Errorf("--device %q: want HOST[:CTR][:PERMS]", spec)
	}
	if !filepath.IsAbs(host) || !filepath.IsAbs(ctr) || !isDevicePerms(perms) {
		return "", "", fmt.Errorf("--device %q: want absolute HOST and CTR paths and PERMS of r, w, m", spec)
	}
	fi, err := os.Stat(host)
	if err != nil {
		return "", "", fmt.Errorf("--device %s: %w", host, err)
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return "", "", fmt.Errorf("--device %s: not a device", host)
	}
	flag := os.O_RDONLY
	if strings.Contains(perms, "w") {
		flag = os.O_RDWR
		if !strings.Contains(perms, "r") {
			flag = os.O_WRONLY
		}
	}
	f, err := os.OpenFile(host, flag|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", "", fmt.Errorf("--device %s: %w: rootless, lodger can only bind a device you can open yourself (as root: give your user access, e.g. a group or mode 0666)", host, err)
	}
	f.Close()
	vol = host + ":" + ctr + ":dev"
	if !strings.Contains(perms, "w") {
		vol += ",ro"
	}
	if perms != "rwm" {
		warn = fmt.Sprintf("--device %s: permissions %q not enforced: that needs the device cgroup, which is not delegated to this user", host, perms)
	}
	return vol, warn, nil
}

func isDevicePerms(s string) bool {
	return s != "" && strings.Trim(s, "rwm") == ""
}

// tzVolume binds the zone file for --tz onto /etc/localtime.
func tzVolume(tz string) (string, error) {
	src := "/etc/localtime"
	if tz != "local" {
		if strings.Contains(tz, "..") || filepath.IsAbs(tz) {
			return "", fmt.Errorf("--tz %q: want local or an Area/City name", tz)
		}
		src = filepath.Join("/usr/share/zoneinfo", tz)
	}
	resolved, err := filepath.EvalSymlinks(src)
	if err != nil {
		return "", fmt.Errorf("--tz %s: no such time zone on this machine (%w); install tzdata or use local", tz, err)
	}
	if fi, err := os.Stat(resolved); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("--tz %s: not a time zone file", tz)
	}
	return resolved + ":/etc/localtime:ro", nil
}
