package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrChange says that a --change instruction is not one commit and import
// take, or is malformed.
var ErrChange = errors.New("invalid change")

// changeInstructions are the Dockerfile instructions --change takes, as
// docker commit and docker import do (minus ONBUILD, which lodger has no
// build to run).
var changeInstructions = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

// Change is one Dockerfile instruction given with --change.
type Change struct {
	Instruction string // upper case
	Value       string
	words       []string // ENV, LABEL, EXPOSE and VOLUME values, split
}

// ParseChanges reads --change values such as `CMD ["sh"]`, `ENV A=1 B=2`
// or `EXPOSE 80/tcp`, in Dockerfile syntax (podman's INSTRUCTION=VALUE
// too), so that a bad one is refused before anything is written.
func ParseChanges(values []string) ([]Change, error) {
	var out []Change
	for _, v := range values {
		c, err := parseChange(v)
		if err != nil {
			return nil, fmt.Errorf("--change %q: %w", v, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseChange(s string) (Change, error) {
	s = strings.TrimSpace(s)
	instr, val, _ := strings.Cut(s, " ")
	if k, v, ok := strings.Cut(instr, "="); ok && isInstruction(k) {
		instr, val = k, v+strings.TrimPrefix(s, instr)
	}
	c := Change{Instruction: strings.ToUpper(instr), Value: strings.TrimSpace(val)}
	if !isInstruction(c.Instruction) {
		return c, fmt.Errorf("%w: %s is not one of %s", ErrChange, instr, strings.Join(changeInstructions, ", "))
	}
	if c.Value == "" {
		return c, fmt.Errorf("%w: %s needs a value", ErrChange, c.Instruction)
	}
	var err error
	switch c.Instruction {
	case "ENV", "LABEL":
		c.words, err = keyValues(c.Value)
	case "EXPOSE":
		c.words, err = ports(c.Value)
	case "VOLUME":
		if list, ok := jsonList(c.Value); ok {
			c.words = list
		} else {
			c.words, err = splitWords(c.Value)
		}
	}
	if err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrChange, c.Instruction, err)
	}
	return c, nil
}

func isInstruction(s string) bool {
	for _, i := range changeInstructions {
		if strings.EqualFold(s, i) {
			return true
		}
	}
	return false
}

// ApplyChanges applies changes to cfg in order, as a Dockerfile would.
func ApplyChanges(cfg *imgspecv1.ImageConfig, changes []Change) {
	cmdSet := false
	for _, c := range changes {
		switch c.Instruction {
		case "CMD":
			cfg.Cmd = command(c.Value)
			cmdSet = true
		case "ENTRYPOINT":
			cfg.Entrypoint = command(c.Value)
			// As in a Dockerfile, a new entrypoint drops the command
			// inherited with the image, unless CMD was given too.
			if !cmdSet {
				cfg.Cmd = nil
			}
		case "ENV":
			for _, kv := range c.words {
				cfg.Env = setEnv(cfg.Env, kv)
			}
		case "LABEL":
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range c.words {
				k, v, _ := strings.Cut(kv, "=")
				cfg.Labels[k] = v
			}
		case "EXPOSE":
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range c.words {
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range c.words {
				cfg.Volumes[v] = struct{}{}
			}
		case "WORKDIR":
			wd := cfg.WorkingDir
			if wd == "" {
				wd = "/"
			}
			if strings.HasPrefix(c.Value, "/") {
				wd = c.Value
			} else {
				wd = path.Join(wd, c.Value)
			}
			cfg.WorkingDir = path.Clean(wd)
		case "USER":
			cfg.User = c.Value
		case "STOPSIGNAL":
			cfg.StopSignal = c.Value
		}
	}
}

// command is CMD's or ENTRYPOINT's value: a JSON array as it is, anything
// else run by /bin/sh -c, as Docker does.
func command(v string) []string {
	if list, ok := jsonList(v); ok {
		return list
	}
	return []string{"/bin/sh", "-c", v}
}

func jsonList(v string) ([]string, bool) {
	if !strings.HasPrefix(v, "[") {
		return nil, false
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, false
	}
	return list, true
}

// setEnv sets KEY=VALUE in env, replacing an earlier value of KEY.
func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			out := append([]string(nil), env...)
			out[i] = kv
			return out
		}
	}
	return append(env, kv)
}

// keyValues reads ENV's and LABEL's value: KEY=VALUE pairs, quoted as in
// a shell, or the old form KEY VALUE with the rest of the line as value.
func keyValues(v string) ([]string, error) {
	words, err := splitWords(v)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		key, rest, _ := strings.Cut(v, " ")
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return nil, fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		return []string{key + "=" + unquote(rest)}, nil
	}
	for _, w := range words {
		if k, _, _ := strings.Cut(w, "="); k == "" {
			return nil, fmt.Errorf("want KEY=VALUE, got %q", w)
		}
	}
	return words, nil
}

// unquote strips one pair of matching quotes around s.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// splitWords splits s at unquoted blanks and removes the quotes: "..."
// takes backslash escapes, '...' is literal, as in a Dockerfile.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// ports reads EXPOSE's value: PORT[/PROTO] or FIRST-LAST[/PROTO], each
// as "PORT/PROTO", tcp when no protocol is named.
func ports(v string) ([]string, error) {
	var out []string
	for _, w := range strings.Fields(v) {
		p, proto, ok := strings.Cut(w, "/")
		if !ok {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("port %q: protocol is tcp, udp or sctp", w)
		}
		first, last, isRange := strings.Cut(p, "-")
		lo, err1 := strconv.ParseUint(first, 10, 16)
		hi := lo
		var err2 error
		if isRange {
			hi, err2 = strconv.ParseUint(last, 10, 16)
		}
		if err1 != nil || err2 != nil || lo == 0 || hi < lo {
			return nil, fmt.Errorf("port %q: want a number from 1 to 65535 or a range of them", w)
		}
		for n := lo; n <= hi; n++ {
			out = append(out, strconv.FormatUint(n, 10)+"/"+proto)
		}
	}
	return out, nil
}
