package session

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHost is a faked /proc, /etc/apparmor.d and securityfs under a temp
// directory, as on a host whose sysctls are given (name: value).
func fakeHost(t *testing.T, sysctls map[string]string) hostFS {
	t.Helper()
	dir := t.TempDir()
	h := hostFS{
		proc:       filepath.Join(dir, "proc"),
		apparmorD:  filepath.Join(dir, "apparmor.d"),
		securityFS: filepath.Join(dir, "security"),
	}
	for name, v := range sysctls {
		writeFile(t, filepath.Join(h.proc, "sys", strings.ReplaceAll(name, ".", "/")), v+"\n")
	}
	if err := os.MkdirAll(h.apparmorD, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withRootlesskit makes lookRootlesskit find path ("" for none) during t.
func withRootlesskit(t *testing.T, path string) {
	t.Helper()
	old := lookRootlesskit
	t.Cleanup(func() { lookRootlesskit = old })
	lookRootlesskit = func() (string, error) {
		if path == "" {
			return "", errors.New("not found")
		}
		return path, nil
	}
}

// ubuntuRootlesskit is the shape of the profile Ubuntu 24.04's apparmor
// package ships for rootlesskit.
const ubuntuRootlesskit = `# This profile allows everything and only exists to give the
# application a name instead of having the label "unconfined"

abi <abi/4.0>,
include <tunables/global>

profile rootlesskit /usr/bin/rootlesskit flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/rootlesskit>
}
`

func TestUsernsRestriction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sysctls map[string]string
		want    string
	}{
		{"no AppArmor (Debian)", nil, ""},
		{"restriction off", map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "0"}, ""},
		{"Ubuntu 24.04", map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1", "kernel.apparmor_restrict_unprivileged_unconfined": "0"}, "kernel.apparmor_restrict_unprivileged_userns"},
		{"unconfined only", map[string]string{"kernel.apparmor_restrict_unprivileged_unconfined": "1"}, "kernel.apparmor_restrict_unprivileged_unconfined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fakeHost(t, tc.sysctls).usernsRestriction(); got != tc.want {
				t.Errorf("usernsRestriction() = %q, want %q", got, tc.want)
			}
		})
	}
}

// The keeper's bare "operation not permitted" on an Ubuntu host becomes an
// error that names AppArmor's restriction and both fixes, with commands.
func TestKeeperErrorNamesAppArmorRestriction(t *testing.T) {
	h := fakeHost(t, map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"})
	withRootlesskit(t, "")
	log := []byte("[rootlesskit:child ] error: failed to share mount point: /: permission denied\nlodger: operation not permitted\n")
	err := keeperError(h, log, "/usr/local/bin/lodger-session")
	var re *RestrictedError
	if !errors.As(err, &re) {
		t.Fatalf("keeperError() = %v (%T), want a *RestrictedError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{
		"create user namespace: lodger: operation not permitted\n",
		"AppArmor restricts user namespaces on this host (kernel.apparmor_restrict_unprivileged_userns=1)",
		"no AppArmor profile allows /usr/local/bin/lodger-session",
		" system apparmor-profile | sudo tee /etc/apparmor.d/lodger >/dev/null && sudo apparmor_parser -r /etc/apparmor.d/lodger",
		"sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
		"installing the rootlesskit package",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
}

func TestKeeperErrorProfileInstalledNotLoaded(t *testing.T) {
	h := fakeHost(t, map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"})
	writeFile(t, filepath.Join(h.apparmorD, "lodger"), AppArmorProfile("/opt/lodger/bin"))
	writeFile(t, filepath.Join(h.apparmorD, "rootlesskit"), ubuntuRootlesskit)
	withRootlesskit(t, "/usr/bin/rootlesskit")
	msg := keeperError(h, []byte("lodger: operation not permitted"), "/opt/lodger/bin/lodger-session").Error()
	for _, want := range []string{
		filepath.Join(h.apparmorD, "lodger") + " allows /opt/lodger/bin/lodger-session, but the kernel has not loaded it",
		"sudo apparmor_parser -r " + filepath.Join(h.apparmorD, "lodger"),
		"/usr/bin/rootlesskit is allowed by " + filepath.Join(h.apparmorD, "rootlesskit"),
		"LODGER_SESSION_HELPER=rootlesskit",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
}

// Where AppArmor does not restrict user namespaces, the keeper's failure
// is reported as it is, with no AppArmor advice.
func TestKeeperErrorUnrestricted(t *testing.T) {
	h := fakeHost(t, nil)
	err := keeperError(h, []byte("newuidmap 123 [0 1000 1] failed: newuidmap: write to uid_map failed: Operation not permitted\n"), "/usr/local/bin/lodger-session")
	var re *RestrictedError
	if errors.As(err, &re) || strings.Contains(err.Error(), "AppArmor") {
		t.Errorf("keeperError() = %q, want no AppArmor advice", err)
	}
	if !strings.HasPrefix(err.Error(), "create user namespace: ") || !strings.Contains(err.Error(), "/etc/subuid") {
		t.Errorf("keeperError() = %q, want the keeper's failure with its own advice", err)
	}
}

func TestUsernsProfileFor(t *testing.T) {
	h := fakeHost(t, nil)
	writeFile(t, filepath.Join(h.apparmorD, "rootlesskit"), ubuntuRootlesskit)
	writeFile(t, filepath.Join(h.apparmorD, "lodger"), AppArmorProfile("/usr/local/bin"))
	// The old Docker-docs shape: a profile named by its path.
	writeFile(t, filepath.Join(h.apparmorD, "home.bin.rootlesskit"), "abi <abi/4.0>,\ninclude <tunables/global>\n\n\"/home/*/bin/rootlesskit\" flags=(unconfined) {\n  userns,\n}\n")
	// A profile without the userns rule allows nothing.
	writeFile(t, filepath.Join(h.apparmorD, "other"), "profile other /usr/bin/{bwrap,other} flags=(unconfined) {\n  # userns,\n  capability,\n}\n")
	// A disabled profile does not count.
	writeFile(t, filepath.Join(h.apparmorD, "bwrap"), "profile bwrap /usr/bin/bwrap flags=(unconfined) {\n  userns,\n}\n")
	writeFile(t, filepath.Join(h.apparmorD, "disable", "bwrap"), "")
	for _, tc := range []struct {
		path, want string
	}{
		{"/usr/bin/rootlesskit", "rootlesskit"},
		{"/usr/local/bin/lodger", "lodger"},
		{"/usr/local/bin/lodger-monitor", "lodger-monitor"},
		{"/usr/local/bin/lodger-session", "lodger-session"},
		{"/opt/bin/lodger-session", ""},
		{"/home/ann/bin/rootlesskit", "/home/*/bin/rootlesskit"},
		{"/home/ann/x/bin/rootlesskit", ""},
		{"/usr/bin/other", ""},
		{"/usr/bin/bwrap", ""},
	} {
		got := ""
		if p := h.usernsProfileFor(tc.path); p != nil {
			got = p.Name
		}
		if got != tc.want {
			t.Errorf("usernsProfileFor(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestChooseHelper(t *testing.T) {
	restricted := map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"}
	const keeper = "/usr/local/bin/lodger-session"
	for _, tc := range []struct {
		name        string
		sysctls     map[string]string
		profiles    map[string]string
		rootlesskit string
		want        Helper
		single      Helper // want when the user has no subordinate ids
		wantErr     string
	}{
		{name: "unrestricted", want: HelperBuiltin, rootlesskit: "/usr/bin/rootlesskit"},
		{name: "restricted, rootlesskit allowed", sysctls: restricted, profiles: map[string]string{"rootlesskit": ubuntuRootlesskit}, rootlesskit: "/usr/bin/rootlesskit", want: HelperRootlesskit},
		{name: "restricted, lodger allowed", sysctls: restricted, profiles: map[string]string{"rootlesskit": ubuntuRootlesskit, "lodger": AppArmorProfile("/usr/local/bin")}, rootlesskit: "/usr/bin/rootlesskit", want: HelperBuiltin},
		{name: "restricted, rootlesskit not allowed", sysctls: restricted, rootlesskit: "/usr/bin/rootlesskit", want: HelperBuiltin},
		{name: "restricted, no rootlesskit", sysctls: restricted, profiles: map[string]string{"rootlesskit": ubuntuRootlesskit}, want: HelperBuiltin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, tc.sysctls)
			for name, text := range tc.profiles {
				writeFile(t, filepath.Join(h.apparmorD, name), text)
			}
			withRootlesskit(t, tc.rootlesskit)
			p, err := choose(HelperAuto, "default", h, keeper, false)
			if err != nil || p.Helper != tc.want {
				t.Errorf("choose(auto) = %+v, %v; want %s", p, err, tc.want)
			}
			if p.Helper == HelperRootlesskit && p.Rootlesskit != tc.rootlesskit {
				t.Errorf("choose(auto) uses %q, want %q", p.Rootlesskit, tc.rootlesskit)
			}
			// rootlesskit maps subordinate ranges only.
			if p, err := choose(HelperAuto, "default", h, keeper, true); err != nil || p.Helper != HelperBuiltin {
				t.Errorf("choose(auto) without subordinate ids = %+v, %v; want builtin", p, err)
			}
		})
	}
	t.Run("forced", func(t *testing.T) {
		h := fakeHost(t, nil)
		withRootlesskit(t, "/usr/bin/rootlesskit")
		if p, err := choose(HelperRootlesskit, HelperEnv, h, keeper, false); err != nil || p.Helper != HelperRootlesskit || p.Rootlesskit != "/usr/bin/rootlesskit" {
			t.Errorf("choose(rootlesskit) = %+v, %v", p, err)
		}
		if p, err := choose(HelperBuiltin, HelperEnv, h, keeper, false); err != nil || p.Helper != HelperBuiltin {
			t.Errorf("choose(builtin) = %+v, %v", p, err)
		}
		withRootlesskit(t, "")
		_, err := choose(HelperRootlesskit, HelperEnv, h, keeper, false)
		if err == nil || !strings.Contains(err.Error(), "install the rootlesskit package") || !strings.Contains(err.Error(), HelperEnv) {
			t.Errorf("choose(rootlesskit) without one = %v, want an error naming the package and %s", err, HelperEnv)
		}
	})
}

func TestParseHelper(t *testing.T) {
	for _, s := range []string{"auto", "builtin", "rootlesskit"} {
		if h, err := parseHelper(s, HelperEnv); err != nil || string(h) != s {
			t.Errorf("parseHelper(%q) = %q, %v", s, h, err)
		}
	}
	if _, err := parseHelper("slirp", HelperEnv); err == nil || !strings.Contains(err.Error(), "use auto, builtin or rootlesskit") {
		t.Errorf("parseHelper(slirp) = %v, want the choices", err)
	}
}

// contrib/apparmor/lodger is what `make install` installs for the default
// PREFIX; it must be what lodger renders, or the two drift apart.
func TestAppArmorProfileMatchesContrib(t *testing.T) {
	b, err := os.ReadFile("../../contrib/apparmor/lodger")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AppArmorProfile("/usr/local/bin"), string(b); got != want {
		t.Errorf("AppArmorProfile(/usr/local/bin) differs from contrib/apparmor/lodger; regenerate it with: go run ./cmd/lodger system apparmor-profile --bindir /usr/local/bin > contrib/apparmor/lodger\n--- got\n%s\n--- want\n%s", got, want)
	}
	for _, want := range []string{"abi <abi/4.0>,", "include <tunables/global>", "profile lodger-session /usr/local/bin/lodger-session flags=(unconfined) {", "  userns,", "include if exists <local/lodger-session>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("contrib/apparmor/lodger lacks %q", want)
		}
	}
}

func TestRunningHelper(t *testing.T) {
	h := fakeHost(t, nil)
	for pid, exe := range map[string]string{"10": "/usr/bin/rootlesskit", "11": "/usr/local/bin/lodger-session"} {
		if err := os.MkdirAll(filepath.Join(h.proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(exe, filepath.Join(h.proc, pid, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	if got, prog := runningHelper(h, 10); got != HelperRootlesskit || prog != "/usr/bin/rootlesskit" {
		t.Errorf("runningHelper(rootlesskit child) = %q, %q", got, prog)
	}
	if got, prog := runningHelper(h, 11); got != HelperBuiltin || prog != "/usr/local/bin/lodger-session" {
		t.Errorf("runningHelper(lodger-session) = %q, %q", got, prog)
	}
}

// `lodger info` reports the restriction, and the fix, before any session
// is tried.
func TestDescribeRestricted(t *testing.T) {
	t.Setenv(HelperEnv, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	withRootlesskit(t, "")
	h := fakeHost(t, map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"})
	r := describe(h)
	if r.UsernsRestriction != "kernel.apparmor_restrict_unprivileged_userns" || r.Next != HelperBuiltin || r.Configured != HelperAuto {
		t.Errorf("describe() = %+v, want the restriction, auto and builtin next", r)
	}
	for _, want := range []string{"AppArmor restricts user namespaces on this host", "sudo apparmor_parser -r /etc/apparmor.d/lodger", "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"} {
		if !strings.Contains(r.Problem, want) {
			t.Errorf("describe().Problem does not say %q:\n%s", want, r.Problem)
		}
	}
	if r := describe(fakeHost(t, nil)); r.UsernsRestriction != "" || r.Problem != "" {
		t.Errorf("describe() on a host without AppArmor = %+v, want no restriction and no problem", r)
	}
}

// TestUsernsProfileForHostilePolicy: what the policy directory holds
// only words the keeper's error (the kernel enforces AppArmor, not
// lodger), but reading it must neither hang nor crash, nor name a profile
// that allows lodger no user namespace, nor miss the one that does,
// whatever the files before it say: a FIFO and a symlink to one (an open
// would block), a line longer than the reader's buffer, braces that never
// balance, a userns rule only in a child profile, an attachment that is
// no valid pattern.
func TestUsernsProfileForHostilePolicy(t *testing.T) {
	h := fakeHost(t, nil)
	if err := syscall.Mkfifo(filepath.Join(h.apparmorD, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(h.apparmorD, "fifo"), filepath.Join(h.apparmorD, "to-fifo")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.apparmorD, "long"), "profile long /usr/local/bin/lodger {\n  # "+strings.Repeat("x", 1<<20)+"\n  capability,\n}\n")
	writeFile(t, filepath.Join(h.apparmorD, "unbalanced"), "}}}}\nprofile u /usr/local/bin/lodger {\n  capability,\n  {{{\n  userns,\n")
	writeFile(t, filepath.Join(h.apparmorD, "child"), "profile outer /usr/local/bin/lodger {\n  profile inner {\n    userns,\n  }\n}\n")
	writeFile(t, filepath.Join(h.apparmorD, "badpattern"), "profile bad /usr/local/bin/lodger[ {\n  userns,\n}\n")
	lookup := func() *aaProfile {
		t.Helper()
		done := make(chan *aaProfile, 1)
		go func() { done <- h.usernsProfileFor("/usr/local/bin/lodger") }()
		select {
		case p := <-done:
			return p
		case <-time.After(10 * time.Second):
			t.Fatal("usernsProfileFor still reading the policy directory after 10 s (a FIFO opened?)")
			return nil
		}
	}
	if p := lookup(); p != nil {
		t.Errorf("usernsProfileFor named %q in %s, which allows lodger no user namespace", p.Name, p.File)
	}
	// lodger's own profile, read after all of them, is still found.
	writeFile(t, filepath.Join(h.apparmorD, "zz-lodger"), AppArmorProfile("/usr/local/bin"))
	if p := lookup(); p == nil || p.Name != "lodger" {
		t.Errorf("usernsProfileFor = %+v after the hostile files, want lodger's own profile", p)
	}
}
