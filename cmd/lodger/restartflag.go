package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lodger-containers/lodger/container/monitor"
)

// parseRestart reads a --restart value, no, on-failure[:N], always or
// unless-stopped, into the library's policy.
func parseRestart(v string) (monitor.RestartPolicy, error) {
	name, n, hasN := strings.Cut(v, ":")
	p := monitor.RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = ""
	case "always", "unless-stopped", "on-failure":
	default:
		return p, fmt.Errorf("--restart %q: use no, on-failure[:N], always or unless-stopped", v)
	}
	if hasN {
		if name != "on-failure" {
			return p, fmt.Errorf("--restart %q: only on-failure takes a retry count", v)
		}
		max, err := strconv.Atoi(n)
		if err != nil || max < 0 {
			return p, fmt.Errorf("--restart %q: the retry count must be a number >= 0", v)
		}
		p.MaxRetries = max
	}
	return p, p.Check()
}
