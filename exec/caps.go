package exec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/sys/capability"
)

// DefaultCapabilities is Docker's default set for a container's root.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// capByName maps "CAP_CHOWN" to its number, for the capabilities this
// kernel knows.
func capByName() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	last, err := capability.LastCap()
	for _, c := range capability.ListKnown() {
		if err == nil && c > last {
			continue
		}
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}

// AllCapabilities lists every capability the kernel knows, sorted.
func AllCapabilities() []string {
	var all []string
	for n := range capByName() {
		all = append(all, n)
	}
	sort.Strings(all)
	return all
}

// NormalizeCap turns "chown", "CHOWN" or "cap_chown" into "CAP_CHOWN" and
// checks that the kernel knows it; "ALL" stays "ALL".
func NormalizeCap(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "ALL" {
		return n, nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if _, ok := capByName()[n]; !ok {
		return "", fmt.Errorf("unknown capability %q: see capabilities(7) for the names", name)
	}
	return n, nil
}

// Capabilities applies --cap-add and --cap-drop to the default set, as
// Docker does: drops first ("ALL" empties the set), then adds ("ALL" gives
// every capability).
func Capabilities(add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range DefaultCapabilities {
		set[c] = true
	}
	for _, d := range drop {
		n, err := NormalizeCap(d)
		if err != nil {
			return nil, fmt.Errorf("--cap-drop: %w", err)
		}
		if n == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, n)
	}
	for _, a := range add {
		n, err := NormalizeCap(a)
		if err != nil {
			return nil, fmt.Errorf("--cap-add: %w", err)
		}
		if n == "ALL" {
			for _, c := range AllCapabilities() {
				set[c] = true
			}
			continue
		}
		set[n] = true
	}
	var out []string
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// capMask turns names into the bit mask the init wants.
func capMask(names []string) (uint64, error) {
	byName := capByName()
	var m uint64
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << uint(c)
	}
	return m, nil
}
