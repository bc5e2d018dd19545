package session

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"

	"github.com/lodger-containers/lodger/config"
	"github.com/lodger-containers/lodger/rootless"
)

// HelperEnv chooses the helper; it wins over lodger.toml's [session] helper.
const HelperEnv = "LODGER_SESSION_HELPER"

// parseHelper accepts the names of the helpers.
func parseHelper(s, source string) (Helper, error) {
	switch h := Helper(strings.TrimSpace(s)); h {
	case HelperAuto, HelperBuiltin, HelperRootlesskit:
		return h, nil
	}
	return "", fmt.Errorf("%s %q: use auto, builtin or rootlesskit", source, s)
}

// configuredHelper is the helper the user asked for and where the choice
// came from.
func configuredHelper() (Helper, string, error) {
	if v := os.Getenv(HelperEnv); v != "" {
		h, err := parseHelper(v, HelperEnv)
		return h, HelperEnv, err
	}
	c, err := config.Load()
	if err != nil {
		return "", "", err
	}
	if c.Session.Helper != "" {
		h, err := parseHelper(c.Session.Helper, "lodger.toml [session] helper")
		return h, "lodger.toml", err
	}
	return HelperAuto, "default", nil
}

// lookRootlesskit finds the rootlesskit binary; a variable for tests.
var lookRootlesskit = func() (string, error) { return osexec.LookPath("rootlesskit") }

// plan is how the next keeper will be started, and why.
type plan struct {
	Helper      Helper
	Reason      string
	Rootlesskit string // its path when Helper is HelperRootlesskit
}

// choose turns the configured helper into the one to use on this host.
// keeper is the program that creates the namespaces on the builtin path.
func choose(want Helper, source string, h hostFS, keeper string, single bool) (plan, error) {
	rk, rkErr := lookRootlesskit()
	switch want {
	case HelperBuiltin:
		return plan{Helper: HelperBuiltin, Reason: "chosen by " + source}, nil
	case HelperRootlesskit:
		if rkErr != nil {
			return plan{}, fmt.Errorf("session helper rootlesskit (chosen by %s): rootlesskit not found in PATH: install the rootlesskit package, or choose the builtin helper", source)
		}
		if single {
			return plan{}, fmt.Errorf("session helper rootlesskit (chosen by %s): rootlesskit needs a range in /etc/subuid and /etc/subgid, which you do not have (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)", source)
		}
		return plan{Helper: HelperRootlesskit, Reason: "chosen by " + source, Rootlesskit: rk}, nil
	}
	sysctl := h.usernsRestriction()
	if sysctl == "" {
		return plan{Helper: HelperBuiltin, Reason: "user namespaces are not restricted"}, nil
	}
	if p := h.usernsProfileFor(keeper); p != nil {
		return plan{Helper: HelperBuiltin, Reason: fmt.Sprintf("%s=1, and %s allows %s", sysctl, p.File, keeper)}, nil
	}
	if rkErr == nil && !single {
		if p := h.usernsProfileFor(rk); p != nil {
			return plan{Helper: HelperRootlesskit, Reason: fmt.Sprintf("%s=1, no profile allows %s, and %s allows %s", sysctl, keeper, p.File, rk), Rootlesskit: rk}, nil
		}
	}
	return plan{Helper: HelperBuiltin, Reason: fmt.Sprintf("%s=1 and no profile allows %s or a rootlesskit", sysctl, keeper)}, nil
}

// planKeeper chooses how to start the keeper whose program is keeper.
func planKeeper(keeper string) (plan, error) {
	want, source, err := configuredHelper()
	if err != nil {
		return plan{}, err
	}
	ids, err := rootless.LoadIDMap()
	if err != nil {
		return plan{}, err
	}
	return choose(want, source, host, keeper, ids.Single)
}

// rootlesskitArgs are rootlesskit's arguments for a session in dir: its
// state directory is lodger's session directory, where its parent writes
// child_pid (the pid of its child in the new namespaces) once the child is
// ready, exactly as the builtin path's parent does, so the C constructor in
// rootless/nsenter and livePID need nothing new. The host network and no
// copy-up: lodger makes each container's network and mounts itself.
// rslave, as on the builtin path, lets host mounts made later reach the
// session. Only flags rootlesskit has had since 0.x are used, so Debian
// bookworm's 1.1.0 and Ubuntu's 2.x both take them.
func rootlesskitArgs(dir, keeper string) []string {
	return []string{"--state-dir=" + dir, "--net=host", "--propagation=rslave", keeper, pauseArg}
}

// runningHelper says which helper made the running session whose
// namespaces pid holds, and its program: rootlesskit's child is
// rootlesskit itself, the builtin one is lodger-session (or lodger).
func runningHelper(h hostFS, pid int) (Helper, string) {
	exe, err := os.Readlink(filepath.Join(h.proc, fmt.Sprint(pid), "exe"))
	if err != nil {
		return "", ""
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if filepath.Base(exe) == "rootlesskit" {
		return HelperRootlesskit, exe
	}
	return HelperBuiltin, exe
}

// Describe reports how the session is made on this host, for `lodger info`.
func Describe() Report { return describe(host) }

func describe(h hostFS) Report {
	r := Report{UsernsRestriction: h.usernsRestriction(), Label: h.selfLabel()}
	if pid := rootless.JoinedPID(); pid > 0 {
		r.Helper, r.HelperProgram = runningHelper(h, pid)
	} else if pid, ok := livePID(); ok {
		r.Helper, r.HelperProgram = runningHelper(h, pid)
	}
	if rk, err := lookRootlesskit(); err == nil {
		r.Rootlesskit = rk
	}
	keeper, _ := keeperExecutable()
	if p := h.usernsProfileFor(keeper); p != nil {
		r.KeeperProfile = p.File
	}
	want, source, err := configuredHelper()
	if err != nil {
		r.Problem = err.Error()
		return r
	}
	r.Configured, r.ConfiguredBy = want, source
	ids, _ := rootless.LoadIDMap()
	p, err := choose(want, source, h, keeper, ids.Single)
	if err != nil {
		r.Problem = err.Error()
		return r
	}
	r.Next, r.NextReason = p.Helper, p.Reason
	if r.UsernsRestriction != "" && p.Helper == HelperBuiltin && r.KeeperProfile == "" {
		r.Problem = restrictedError(h, nil, keeper).Error()
	}
	return r
}

// restrictedError explains a failure to create the session's namespace on
// a host where AppArmor restricts user namespaces; nil elsewhere.
func restrictedError(h hostFS, err error, keeper string) *RestrictedError {
	sysctl := h.usernsRestriction()
	if sysctl == "" {
		return nil
	}
	self, _ := os.Executable()
	if self == "" {
		self = "lodger"
	}
	e := &RestrictedError{Err: err, Sysctl: sysctl, Program: keeper, Lodger: self}
	if p := h.usernsProfileFor(keeper); p != nil {
		if strings.HasPrefix(h.selfLabel(), "lodger ") {
			// This lodger runs under the profile of the same file, so
			// the kernel has it: the failure is not AppArmor's.
			return nil
		}
		e.Profile = p.File
	}
	if rk, err := lookRootlesskit(); err == nil {
		e.Rootlesskit = rk
		if p := h.usernsProfileFor(rk); p != nil {
			e.RootlesskitProfile = p.File
		}
	}
	return e
}
