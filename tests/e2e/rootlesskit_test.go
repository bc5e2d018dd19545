//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSessionThroughRootlesskit proves issue 19's fallback end to end: on
// Ubuntu 23.10+ AppArmor lets the distribution's rootlesskit create user
// namespaces and not lodger, so lodger can have rootlesskit make the session
// and work inside it as usual. This host has no AppArmor, so the test
// chooses the helper in lodger.toml; what it proves is that a session made
// by the external binary (Debian's rootlesskit package) is one lodger
// joins, maps with the subordinate range, runs foreground, detached and
// exec'd processes in, and reports in `lodger info`.
func TestSessionThroughRootlesskit(t *testing.T) {
	rk, err := exec.LookPath("rootlesskit")
	if err != nil {
		t.Fatalf("rootlesskit not found in PATH=%s: install the rootlesskit package (tests/e2e/run.sh does as root, .ci/run too)", os.Getenv("PATH"))
	}
	if p, err := filepath.EvalSymlinks(rk); err == nil {
		rk = p
	}
	e := isolatedEnv(t)
	if err := os.MkdirAll(filepath.Join(e.config, "lodger"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.config, "lodger", "lodger.toml"), []byte("[session]\nhelper = \"rootlesskit\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A foreground container; a file chowned to a subordinate id keeps it,
	// so the session maps the whole range through newuidmap, as the
	// builtin path does.
	r := e.runRm(t, busybox, "sh", "-c", "touch /tmp/f && chown 1234:1234 /tmp/f && stat -c '%u:%g' /tmp/f && echo hello")
	wantStdout(t, r, "1234:1234\nhello\n")

	// What holds the session's namespaces is rootlesskit's child, which
	// rootlesskit's parent started from the session directory lodger's
	// constructor reads.
	pid := e.keeperPID()
	if pid == 0 {
		t.Fatalf("no child_pid in %s after a run", filepath.Join(e.runtime, "lodger", "session"))
	}
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		t.Fatal(err)
	}
	if exe != rk {
		t.Errorf("the session's namespaces are held by %s, want rootlesskit's child (%s)", exe, rk)
	}

	// info says which path the session took, in text and JSON.
	r = e.lodger(t, "info")
	wantCode(t, r, 0)
	if want := "made by:       rootlesskit (" + rk + ")"; !strings.Contains(r.stdout, want) {
		t.Errorf("%s\nwant info to say %q", r, want)
	}
	if want := "helper:        rootlesskit (lodger.toml)"; !strings.Contains(r.stdout, want) {
		t.Errorf("%s\nwant info to say %q", r, want)
	}
	r = e.lodger(t, "info", "--format", "json")
	wantCode(t, r, 0)
	var info struct {
		Session struct {
			Helper        string `json:"helper"`
			HelperProgram string `json:"helperProgram"`
			Configured    string `json:"configured"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	if info.Session.Helper != "rootlesskit" || info.Session.HelperProgram != rk || info.Session.Configured != "rootlesskit" {
		t.Errorf("%s\nwant session helper rootlesskit (%s), configured rootlesskit; got %+v", r, rk, info.Session)
	}

	// A detached container under its own monitor, and exec into it: the
	// monitor and exec join the same session.
	r = e.lodger(t, "run", "-d", "-q", noTLS, "--name", "held", busybox, "sleep", "60")
	wantCode(t, r, 0)
	wantStdout(t, e.lodger(t, "exec", "held", "sh", "-c", "id -u; awk 'END{print NR}' /proc/self/uid_map"), "0\n2\n")
	wantCode(t, e.lodger(t, "rm", "-f", "held"), 0)
	if got := e.keeperPID(); got != pid {
		t.Errorf("the session keeper changed from %d to %d: later commands must join the first session", pid, got)
	}
}

// A helper name lodger does not know is refused with the choices, exit 125
// from run, before anything is started.
func TestSessionHelperUnknown(t *testing.T) {
	e := isolatedEnv(t)
	r := call{env: e, extra: []string{"LODGER_SESSION_HELPER=slirp"}}.run(t, "run", "--rm", "-q", noTLS, busybox, "true")
	wantError(t, r, 125, `LODGER_SESSION_HELPER "slirp": use auto, builtin or rootlesskit`)
	if pid := e.keeperPID(); pid != 0 {
		t.Errorf("a session keeper (%d) was started with an unknown helper", pid)
	}
}
