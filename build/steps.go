package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// setEnv sets KEY=VALUE in env, replacing an earlier value of KEY.
func setEnv(env []string, key, value string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if k, _, _ := strings.Cut(e, "="); k == key {
			out[i] = key + "=" + value
			return out
		}
	}
	return append(out, key+"="+value)
}

// exposePorts reads one EXPOSE word: PORT[/PROTO] or START-END[/PROTO].
func exposePorts(w string) ([]string, error) {
	p, proto, _ := strings.Cut(w, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", p)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid range specified for containerPort: %s", p)
		}
	}
	var out []string
	for n := start; n <= end; n++ {
		out = append(out, fmt.Sprintf("%d/%s", n, proto))
	}
	return out, nil
}

// key is a step's cache key.
func key(parent, createdBy, extra string) string {
	h := sha256.New()
	fmt.Fprintf(h, "lodger-build-v1\x00%s\x00%s\x00%s", parent, createdBy, extra)
	return hex.EncodeToString(h.Sum(nil))
}
