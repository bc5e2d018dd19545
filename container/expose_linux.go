package container

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// exposedPorts adds --expose PORT[/PROTO] and START-END[/PROTO] to the
// image's exposed ports, which -P publishes.
func exposedPorts(image map[string]struct{}, expose []string) (map[string]struct{}, error) {
	if len(expose) == 0 {
		return image, nil
	}
	out := maps.Clone(image)
	if out == nil {
		out = map[string]struct{}{}
	}
	for _, e := range expose {
		spec, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, optionError(OptExpose, strconv.Quote(e), fmt.Sprintf("protocol %q: want tcp or udp", proto), nil)
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		start, err1 := strconv.ParseUint(lo, 10, 16)
		end := start
		var err2 error
		if isRange {
			end, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || start == 0 || end < start {
			return nil, optionError(OptExpose, strconv.Quote(e), "want PORT[/PROTO] or START-END[/PROTO], ports 1-65535", nil)
		}
		for p := start; p <= end; p++ {
			out[strconv.FormatUint(p, 10)+"/"+proto] = struct{}{}
		}
	}
	return out, nil
}
