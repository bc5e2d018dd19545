package container

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	lnetwork "github.com/lodger-containers/lodger/network"
)

// Filter selects containers as Docker's `ps --filter` does: values of one
// key are alternatives, except label, whose values must all match; keys
// must all match.
type Filter struct {
	ids       []string
	names     []*regexp.Regexp
	labels    []string // KEY or KEY=VALUE
	statuses  []string
	ancestors []string
	networks  []string // names or IDs (a prefix)
	health    []string // starting, healthy, unhealthy or none
	exited    []int
	// ancestorIDs are the image IDs the ancestor values name, from
	// ResolveAncestors.
	ancestorIDs []string
}

// dockerStatuses are the states Docker's status filter takes; lodger's
// containers are only ever created, running or exited.
var dockerStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// ParseFilters reads --filter KEY=VALUE arguments.
func ParseFilters(args []string) (Filter, error) {
	var f Filter
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("--filter %q: want KEY=VALUE", a)
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "id":
			f.ids = append(f.ids, val)
		case "name":
			re, err := regexp.Compile(val)
			if err != nil {
				return f, fmt.Errorf("--filter %q: %w", a, err)
			}
			f.names = append(f.names, re)
		case "label":
			if val == "" || strings.HasPrefix(val, "=") {
				return f, fmt.Errorf("--filter %q: want label=KEY or label=KEY=VALUE", a)
			}
			f.labels = append(f.labels, val)
		case "status":
			if !slices.Contains(dockerStatuses, val) {
				return f, fmt.Errorf("--filter %q: status is one of %s", a, strings.Join(dockerStatuses, ", "))
			}
			f.statuses = append(f.statuses, val)
		case "ancestor":
			if val == "" {
				return f, fmt.Errorf("--filter %q: want ancestor=IMAGE", a)
			}
			f.ancestors = append(f.ancestors, val)
		case "network":
			if val == "" {
				return f, fmt.Errorf("--filter %q: want network=NAME or network=ID", a)
			}
			f.networks = append(f.networks, val)
		case "health":
			if !slices.Contains(healthStatuses, val) {
				return f, fmt.Errorf("--filter %q: health is one of %s", a, strings.Join(healthStatuses, ", "))
			}
			f.health = append(f.health, val)
		case "exited":
			code, err := strconv.Atoi(val)
			if err != nil {
				return f, fmt.Errorf("--filter %q: want exited=CODE, a number", a)
			}
			f.exited = append(f.exited, code)
		default:
			return f, fmt.Errorf("--filter %q: unknown filter %q; use id, name, label, status, ancestor, network, health or exited", a, key)
		}
	}
	return f, nil
}

// healthStatuses are the values of Docker's health filter: none is a
// container without a health check.
var healthStatuses = []string{"starting", "healthy", "unhealthy", "none"}

// HasStatus reports whether the filter selects by status or exit code,
// which, as in Docker, lists stopped containers without -a.
func (f Filter) HasStatus() bool { return len(f.statuses)+len(f.exited) > 0 }

// ResolveAncestors looks the ancestor values up as images (name, short
// name, ID or ID prefix); a value that names no image still matches the
// image reference a container was created from.
func (f *Filter) ResolveAncestors(lookup func(ref string) (id string, err error)) {
	for _, a := range f.ancestors {
		if id, err := lookup(a); err == nil {
			f.ancestorIDs = append(f.ancestorIDs, id)
		}
	}
}

// Match reports whether in passes every key of the filter.
func (f Filter) Match(in Info) bool {
	if len(f.ids) > 0 && !slices.ContainsFunc(f.ids, func(p string) bool { return strings.HasPrefix(in.ID, p) }) {
		return false
	}
	// Docker matches names with their leading slash: "^/web$" works
	// there, "^web$" here, and both do.
	if len(f.names) > 0 && !slices.ContainsFunc(f.names, func(re *regexp.Regexp) bool {
		return re.MatchString(in.Name) || re.MatchString("/"+in.Name)
	}) {
		return false
	}
	for _, l := range f.labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := in.Metadata.Labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	if len(f.statuses) > 0 && !slices.Contains(f.statuses, in.State.Status) {
		return false
	}
	if len(f.ancestors) > 0 && !f.matchAncestor(in) {
		return false
	}
	if len(f.networks) > 0 && !f.matchNetwork(in) {
		return false
	}
	if len(f.health) > 0 {
		h := "none"
		if in.State.Health != nil {
			h = in.State.Health.Status
		}
		if !slices.Contains(f.health, h) {
			return false
		}
	}
	if len(f.exited) > 0 && (in.State.Status != "exited" || in.State.ExitCode == nil || !slices.Contains(f.exited, *in.State.ExitCode)) {
		return false
	}
	return true
}

// matchNetwork: the container is on a network a value names, by name or
// by (a prefix of) its ID.
func (f Filter) matchNetwork(in Info) bool {
	ns := in.Metadata.networkOf()
	nets := ns.Networks
	for _, v := range f.networks {
		if v == in.Metadata.NetworkName() {
			return true
		}
		// The default network is Docker's bridge (its predefined ID) or
		// lodger's netstack, also beside user networks.
		if ns.Mode != NetworkUser {
			if v == NetworkNetstack && ns.Mode == NetworkNetstack {
				return true
			}
			if p, err := lnetwork.New("").Get(in.Metadata.NetworkName()); err == nil && p.Predefined && (v == p.Name || strings.HasPrefix(p.ID, v)) {
				return true
			}
		}
		for _, n := range nets {
			if n.Name == v || (n.ID != "" && strings.HasPrefix(n.ID, v)) {
				return true
			}
		}
	}
	return false
}

func (f Filter) matchAncestor(in Info) bool {
	if slices.Contains(f.ancestorIDs, in.ImageID) {
		return true
	}
	for _, a := range f.ancestors {
		if in.Metadata.Image == a || in.Metadata.Image == a+":latest" {
			return true
		}
		if id := strings.TrimPrefix(a, "sha256:"); len(id) >= 3 && strings.HasPrefix(in.ImageID, id) {
			return true
		}
	}
	return false
}
