package session

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Ubuntu 23.10 and later (24.04 LTS by default, and so the ubuntu-24.04
// CI runners) set kernel.apparmor_restrict_unprivileged_userns=1: an
// unprivileged program may create a user namespace only under an AppArmor
// profile with the `userns` rule. An unconfined program is moved into the
// unprivileged_userns profile instead, which keeps no capability in the new
// namespace, so the keeper fails with a bare "operation not permitted" at
// its first mount or id map (issue 19; containerd/nerdctl#2847 and
// moby/moby#47480 met the same). The code here recognises that host, names
// the profile that would allow lodger, and renders lodger's own.

// hostFS is where the detection reads the host: procfs, the profile
// directory and securityfs. Tests point it at a faked tree.
type hostFS struct {
	proc       string // /proc
	apparmorD  string // /etc/apparmor.d
	securityFS string // /sys/kernel/security
}

var host = hostFS{proc: "/proc", apparmorD: "/etc/apparmor.d", securityFS: "/sys/kernel/security"}

// restrictSysctls are the sysctls under which AppArmor polices the creation
// of user namespaces by unconfined programs. The second one also forbids an
// unconfined program to change itself into a profile that allows it
// (aa-exec), so only a profile attached to the binary helps.
var restrictSysctls = []string{
	"kernel.apparmor_restrict_unprivileged_userns",
	"kernel.apparmor_restrict_unprivileged_unconfined",
}

// usernsRestriction returns the first restricting sysctl that is set to 1,
// "" when none is (any kernel without Ubuntu's AppArmor patches).
func (h hostFS) usernsRestriction() string {
	for _, name := range restrictSysctls {
		b, err := os.ReadFile(filepath.Join(h.proc, "sys", strings.ReplaceAll(name, ".", "/")))
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			return name
		}
	}
	return ""
}

// selfLabel is this process's AppArmor label ("lodger (unconfined)"), ""
// when AppArmor is off or says nothing.
func (h hostFS) selfLabel() string {
	for _, p := range []string{"self/attr/apparmor/current", "self/attr/current"} {
		b, err := os.ReadFile(filepath.Join(h.proc, p))
		if err == nil {
			if s := strings.TrimSpace(strings.TrimRight(string(b), "\x00")); s != "" {
				return s
			}
		}
	}
	return ""
}

// aaProfile is one profile of /etc/apparmor.d as far as lodger cares.
type aaProfile struct {
	Name   string // the profile's name
	File   string // the file that defines it
	Attach string // the path pattern it attaches to
	Userns bool   // it has a userns rule
}

// usernsProfileFor returns the profile in the profile directory that
// attaches to the program at path and allows it user namespaces, or nil.
// It reads the files; whether the kernel has loaded them only root can
// see (securityfs' profile list is root's), so callers say "installed".
// A profile in the directory's disable/ is not counted.
func (h hostFS) usernsProfileFor(path string) *aaProfile {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	ents, err := os.ReadDir(h.apparmorD)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), "~") {
			continue
		}
		if _, err := os.Lstat(filepath.Join(h.apparmorD, "disable", e.Name())); err == nil {
			continue
		}
		for _, p := range parseProfiles(filepath.Join(h.apparmorD, e.Name())) {
			if p.Userns && attachMatches(p.Attach, path) {
				p := p
				return &p
			}
		}
	}
	return nil
}

// apparmorPatterns are compiled at the first policy read, not as every
// lodger process starts.
var apparmorPatterns = sync.OnceValues(func() (profileHeader, usernsRule *regexp.Regexp) {
	return regexp.MustCompile(`^(?:profile\s+(\S+)\s+)?(/\S*|"/[^"]*")?\s*(?:flags\s*=\s*\([^)]*\)\s*)?\{`),
		regexp.MustCompile(`^(?:allow\s+)?userns(?:\s+create)?\s*,`)
})

// parseProfiles reads the top-level profiles of one policy file: their
// name, attachment and whether their body allows userns. It is no policy
// parser; it reads the simple shape every distribution's userns profiles
// share (Ubuntu's podman, rootlesskit, bwrap, and lodger's own).
func parseProfiles(file string) []aaProfile {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []aaProfile
	var cur *aaProfile
	depth := 0
	profileHeader, usernsRule := apparmorPatterns()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 && !strings.HasPrefix(strings.TrimSpace(line), "#include") {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if depth == 0 {
			if m := profileHeader.FindStringSubmatch(line); m != nil && (m[1] != "" || m[2] != "") {
				attach := strings.Trim(m[2], `"`)
				name := m[1]
				if name == "" {
					name = attach
				} else if attach == "" && strings.HasPrefix(name, "/") {
					attach = name // a profile named by a path attaches to it
				}
				out = append(out, aaProfile{Name: name, File: file, Attach: attach})
				cur = &out[len(out)-1]
			}
		} else if depth == 1 && cur != nil && usernsRule.MatchString(line) {
			cur.Userns = true
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth <= 0 {
			depth, cur = 0, nil
		}
	}
	return out
}

// attachMatches reports whether an AppArmor attachment pattern matches
// path: ** any characters, * any but /, ? one but /, {a,b} alternatives,
// [..] a class. A pattern with a variable (@{...}) is not expanded and
// does not match.
func attachMatches(pattern, path string) bool {
	if pattern == "" || strings.Contains(pattern, "@{") {
		return false
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				re.WriteString(".*")
				i++
			} else {
				re.WriteString("[^/]*")
			}
		case '?':
			re.WriteString("[^/]")
		case '{':
			re.WriteString("(?:")
		case '}':
			re.WriteString(")")
		case ',':
			re.WriteString("|")
		case '[', ']':
			re.WriteByte(c)
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	m, err := regexp.MatchString(re.String(), path)
	return err == nil && m
}

// RestrictedError says that the session's user namespace could not be
// created because AppArmor restricts user namespaces and no profile allows
// the keeper, and what an administrator does about it once.
type RestrictedError struct {
	Err     error  // the keeper's own failure
	Sysctl  string // the restricting sysctl, set to 1
	Program string // the program that creates the namespace
	Lodger  string // this lodger, which prints its profile
	// Profile is an installed profile file that allows Program; the
	// kernel then has not loaded it.
	Profile string
	// Rootlesskit is the distribution's rootlesskit when one is
	// installed, and RootlesskitProfile the profile that allows it.
	Rootlesskit, RootlesskitProfile string
}

func (e *RestrictedError) Unwrap() error { return e.Err }

func (e *RestrictedError) Error() string {
	var b strings.Builder
	if e.Err != nil {
		fmt.Fprintf(&b, "create user namespace: %v\n", e.Err)
	}
	fmt.Fprintf(&b, "AppArmor restricts user namespaces on this host (%s=1)", e.Sysctl)
	if e.Profile != "" {
		fmt.Fprintf(&b, "; %s allows %s, but the kernel has not loaded it. An administrator loads it once:\n  sudo apparmor_parser -r %s\n", e.Profile, e.Program, e.Profile)
	} else {
		fmt.Fprintf(&b, " and no AppArmor profile allows %s to create one. An administrator fixes this once, either by installing lodger's profile:\n", e.Program)
		fmt.Fprintf(&b, "  %s system apparmor-profile | sudo tee %s >/dev/null && sudo apparmor_parser -r %s\n", e.Lodger, ProfileFile, ProfileFile)
		fmt.Fprintf(&b, "or by lifting the restriction for every program (persist it in /etc/sysctl.d/):\n  sudo sysctl -w %s=0\n", e.Sysctl)
	}
	switch {
	case e.Rootlesskit != "" && e.RootlesskitProfile != "":
		fmt.Fprintf(&b, "Without an administrator: %s is allowed by %s; use it with LODGER_SESSION_HELPER=rootlesskit or [session] helper = \"rootlesskit\" in lodger.toml.", e.Rootlesskit, e.RootlesskitProfile)
	case e.Rootlesskit != "":
		fmt.Fprintf(&b, "(%s is installed, but no AppArmor profile allows it either.)", e.Rootlesskit)
	default:
		b.WriteString("Where the distribution ships rootlesskit with its own profile (Ubuntu does), installing the rootlesskit package lets lodger create its session through it.")
	}
	return b.String()
}
