package container

import (
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

// security is SecurityOptions checked and worked out: done once per run,
// before anything is pulled, and applied to the spec once the user is
// known.
type security struct {
	privileged bool
	caps       []string
	addCaps    []string // --cap-add, normalised, for a non-root user's ambient set
	noNewPrivs bool
	profile    string              // default, unconfined or a file, for messages
	seccomp    *specs.LinuxSeccomp // nil: no filter
}

// parseSecurity checks o and computes the capabilities and the seccomp
// profile; a profile the filter cannot express fails here.
func parseSecurity(o SecurityOptions) (*security, error) {
	s := &security{privileged: o.Privileged, profile: "default"}
	if o.Privileged {
		// Rootless --privileged: every capability of the user namespace,
		// no seccomp filter, nothing masked. It grants nothing the user
		// does not already hold outside.
		s.caps = exec.AllCapabilities()
	} else {
		c, err := exec.Capabilities(o.CapAdd, o.CapDrop)
		if err != nil {
			return nil, err
		}
		s.caps = c
		for _, a := range o.CapAdd {
			n, err := exec.NormalizeCap(a)
			if err != nil {
				return nil, optionError(OptCapAdd, "", err.Error(), err)
			}
			if n == "ALL" {
				s.addCaps = c
				break
			}
			s.addCaps = append(s.addCaps, n)
		}
	}
	for _, opt := range o.SecurityOpt {
		key, val, hasVal := strings.Cut(opt, "=")
		if !hasVal {
			key, val, hasVal = strings.Cut(opt, ":")
		}
		switch key {
		case "no-new-privileges":
			s.noNewPrivs = true
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return nil, optionError(OptSecurityOpt, strconv.Quote(opt), "no-new-privileges takes true or false", nil)
				}
				s.noNewPrivs = b
			}
		case "seccomp":
			if !hasVal || val == "" {
				return nil, optionError(OptSecurityOpt, strconv.Quote(opt), "use seccomp=unconfined or seccomp=PROFILE.json", nil)
			}
			s.profile = val
		default:
			return nil, optionError(OptSecurityOpt, strconv.Quote(opt), "unknown option (lodger knows no-new-privileges and seccomp=...)", nil)
		}
	}
	if o.Privileged {
		return s, nil
	}
	var err error
	switch s.profile {
	case "unconfined":
	case "default":
		s.seccomp, err = seccomp.Default(s.caps)
	default:
		s.seccomp, err = seccomp.Load(s.profile, s.caps)
	}
	switch {
	case err != nil || s.seccomp == nil:
	case s.profile == "default":
		// lodger's own profile, which every run compiles: its assembly
		// (1.4 ms of CPU) runs beside the image lookup and the
		// container's creation, and the init program takes it from
		// seccomp.Compile's cache, or waits for it there (issue 14). Its
		// error, if ever, is the init program's, before the start.
		go func() { _, _ = seccomp.Compile(s.seccomp) }()
	default:
		// Compiled now so that a bad profile fails before any pull; the
		// init program reuses this compilation (seccomp.Compile keeps it).
		_, err = seccomp.Compile(s.seccomp)
	}
	if err != nil {
		return nil, optionError(OptSecurityOpt, "seccomp="+s.profile, err.Error(), err)
	}
	return s, nil
}

// apply fills the spec's capabilities, seccomp filter, masked and
// read-only paths and no_new_privs. spec.Process.User must be set: a
// non-root user gets only what it asked for with --cap-add, as ambient
// (and so inheritable) capabilities; root's inheritable set stays empty
// (CVE-2022-27649).
func (s *security) apply(spec *specs.Spec) {
	c := &specs.LinuxCapabilities{Bounding: s.caps, Effective: s.caps, Permitted: s.caps}
	if spec.Process.User.UID != 0 && !s.privileged {
		c.Ambient, c.Inheritable = s.addCaps, s.addCaps
	}
	spec.Process.Capabilities = c
	spec.Process.NoNewPrivileges = s.noNewPrivs
	if s.privileged {
		return
	}
	spec.Linux.MaskedPaths = MaskedPaths
	spec.Linux.ReadonlyPaths = ReadonlyPaths
	spec.Linux.Seccomp = s.seccomp
}
