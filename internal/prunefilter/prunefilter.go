// Package prunefilter is Docker's filters of the prune operations
// (containers, images, volumes, networks): until, label and label!, read
// once here for the CLI's --filter and the Engine API's filters alike.
package prunefilter

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid says a filter is unknown to the prune, or its value is
// malformed.
var ErrInvalid = errors.New("invalid filter")

// Filter selects what a prune removes. The zero Filter selects
// everything.
type Filter struct {
	// Until keeps what was created at or after it; zero keeps nothing
	// back.
	Until time.Time
	// Labels must all hold (label=KEY or label=KEY=VALUE); NotLabels
	// keep back what has all of them (label!=...), as Docker reads them.
	Labels, NotLabels []string
}

// Parse reads Docker's filters (key to values) for a prune that takes
// the keys allowed (of "until", "label", "label!"; others are the
// caller's, returned in rest). A key the prune does not take is
// ErrInvalid, as Docker answers it.
func Parse(filters map[string][]string, allowed ...string) (f Filter, rest map[string][]string, err error) {
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, k := range keys {
		vs := filters[k]
		if !ok[k] {
			return Filter{}, nil, fmt.Errorf("%w '%s'", ErrInvalid, k)
		}
		switch k {
		case "until":
			if len(vs) > 1 {
				return Filter{}, nil, fmt.Errorf("%w: more than one until filter", ErrInvalid)
			}
			for _, v := range vs {
				if f.Until, err = ParseTime(v, time.Now()); err != nil {
					return Filter{}, nil, err
				}
			}
		case "label":
			f.Labels = append(f.Labels, vs...)
		case "label!":
			f.NotLabels = append(f.NotLabels, vs...)
		default:
			if rest == nil {
				rest = map[string][]string{}
			}
			rest[k] = vs
		}
	}
	return f, rest, nil
}

// Match reports whether something created at created with labels is
// selected.
func (f Filter) Match(created time.Time, labels map[string]string) bool {
	if !f.Until.IsZero() && !created.Before(f.Until) {
		return false
	}
	if !all(f.Labels, labels) {
		return false
	}
	return len(f.NotLabels) == 0 || !all(f.NotLabels, labels)
}

// HasLabels says whether Match looks at labels at all, for a caller
// that reads them only when needed.
func (f Filter) HasLabels() bool { return len(f.Labels)+len(f.NotLabels) > 0 }

// all reports whether labels has every KEY or KEY=VALUE of want.
func all(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// ParseTime reads Docker's until (and since) values: a Go duration
// before now ("24h", "10m"), Unix seconds with an optional fraction, or
// an RFC 3339 date or date and time (a time without a zone is local).
func ParseTime(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); unixSeconds(sec) && (!ok || unixSeconds(frac)) {
		s, _ := strconv.ParseInt(sec, 10, 64)
		var ns int64
		if ok {
			ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		}
		return time.Unix(s, ns), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: until=%s: use a duration (24h), Unix seconds or an RFC 3339 date", ErrInvalid, v)
}

func unixSeconds(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
