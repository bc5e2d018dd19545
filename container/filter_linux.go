package container

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
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
		default:
			return f, fmt.Errorf("--filter %q: unknown filter %q; use id, name, label, status or ancestor", a, key)
		}
	}
	return f, nil
}

// HasStatus reports whether the filter selects by status, which, as in
// Docker, lists stopped containers without -a.
func (f Filter) HasStatus() bool { return len(f.statuses) > 0 }

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
	return true
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
