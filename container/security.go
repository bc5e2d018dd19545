package container

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/exec/seccomp"
)

// Docker's masked and read-only paths: kernel interfaces a container has
// no business reading (masked) or changing (read-only).
var (
	MaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	ReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// SecurityOptions are the flags that shape a container's privileges.
type SecurityOptions struct {
	Privileged  bool
	CapAdd      []string
	CapDrop     []string
	SecurityOpt []string // no-new-privileges[=true|false], seccomp=unconfined|FILE
}

// applySecurity fills the spec's capabilities, seccomp filter, masked and
// read-only paths and no_new_privs from o.
func applySecurity(spec *specs.Spec, o SecurityOptions) error {
	var caps []string
	if o.Privileged {
		// Rootless --privileged: every capability of the user namespace,
		// no seccomp filter, nothing masked. It grants nothing the user
		// does not already hold outside.
		caps = exec.AllCapabilities()
	} else {
		c, err := exec.Capabilities(o.CapAdd, o.CapDrop)
		if err != nil {
			return err
		}
		caps = c
	}
	spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	// A non-root user gets only what it asked for with --cap-add, as
	// ambient (and so inheritable) capabilities; root's inheritable set
	// stays empty (CVE-2022-27649).
	if spec.Process.User.UID != 0 && !o.Privileged {
		for _, a := range o.CapAdd {
			n, err := exec.NormalizeCap(a)
			if err != nil {
				return fmt.Errorf("--cap-add: %w", err)
			}
			if n == "ALL" {
				spec.Process.Capabilities.Ambient = caps
				break
			}
			spec.Process.Capabilities.Ambient = append(spec.Process.Capabilities.Ambient, n)
		}
		spec.Process.Capabilities.Inheritable = spec.Process.Capabilities.Ambient
	}

	profile := "default"
	for _, opt := range o.SecurityOpt {
		key, val, hasVal := strings.Cut(opt, "=")
		if !hasVal {
			key, val, hasVal = strings.Cut(opt, ":")
		}
		switch key {
		case "no-new-privileges":
			on := true
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return fmt.Errorf("--security-opt %q: no-new-privileges takes true or false", opt)
				}
				on = b
			}
			spec.Process.NoNewPrivileges = on
		case "seccomp":
			if !hasVal || val == "" {
				return fmt.Errorf("--security-opt %q: use seccomp=unconfined or seccomp=PROFILE.json", opt)
			}
			profile = val
		default:
			return fmt.Errorf("--security-opt %q: unknown option (lodger knows no-new-privileges and seccomp=...)", opt)
		}
	}
	if o.Privileged {
		return nil
	}
	spec.Linux.MaskedPaths = MaskedPaths
	spec.Linux.ReadonlyPaths = ReadonlyPaths
	var err error
	switch profile {
	case "unconfined":
	case "default":
		spec.Linux.Seccomp, err = seccomp.Default(caps)
	default:
		spec.Linux.Seccomp, err = seccomp.Load(profile, caps)
	}
	if err == nil && spec.Linux.Seccomp != nil {
		// Compile now so that a profile the filter cannot express fails
		// here, before anything is pulled or created.
		_, err = seccomp.Compile(spec.Linux.Seccomp)
	}
	if err != nil {
		return fmt.Errorf("--security-opt seccomp=%s: %w", profile, err)
	}
	return nil
}
