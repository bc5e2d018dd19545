package container

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPath is the PATH a container gets when neither the image nor the
// user sets one, as in Docker.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Command composes the process arguments as Docker does: --entrypoint
// replaces the image's Entrypoint and drops its Cmd; arguments after the
// image replace the image's Cmd.
func Command(cfg imgspecv1.ImageConfig, entrypoint []string, args []string) []string {
	ep, cmd := CommandParts(cfg, entrypoint, args)
	if len(ep) == 1 && ep[0] == "" {
		ep = nil // --entrypoint "" or the API's [""]: no entrypoint at all
	}
	return append(append([]string{}, ep...), cmd...)
}

// CommandParts are a container's Entrypoint and Cmd as Docker's create
// keeps them (Config.Entrypoint, Config.Cmd): an entrypoint given (nil is
// none; --entrypoint "" gives [""], Docker's reset) replaces the image's
// and drops its Cmd, arguments replace the Cmd.
func CommandParts(cfg imgspecv1.ImageConfig, entrypoint []string, args []string) (ep, cmd []string) {
	if entrypoint != nil {
		ep = entrypoint
	} else {
		ep = cfg.Entrypoint
		cmd = cfg.Cmd
	}
	if len(args) > 0 {
		cmd = args
	}
	return ep, cmd
}

// Env merges the image's environment with --env-file files and -e values,
// later ones winning per key. "-e KEY" alone takes KEY from lodger's own
// environment, and is dropped when unset there.
func Env(image []string, envFiles []string, envs []string) ([]string, error) {
	overrides, err := EnvOverrides(envFiles, envs)
	if err != nil {
		return nil, err
	}
	return MergeEnv(image, overrides), nil
}

// EnvOverrides reads --env-file files and -e values into KEY=VALUE
// entries, in order; "-e KEY" alone takes KEY from lodger's own
// environment and is dropped when unset there.
func EnvOverrides(envFiles []string, envs []string) ([]string, error) {
	var in []string
	for _, f := range envFiles {
		vals, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		in = append(in, vals...)
	}
	in = append(in, envs...)
	out := make([]string, 0, len(in))
	for _, kv := range in {
		k, _, hasValue := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid environment variable %q: empty name", kv)
		}
		if !hasValue {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			kv = k + "=" + v
		}
		out = append(out, kv)
	}
	return out, nil
}

// MergeEnv lays overrides over the image's environment, later entries
// winning per key and keeping the first position, and adds Docker's PATH
// when none is set.
func MergeEnv(image, overrides []string) []string {
	order := []string{}
	vals := map[string]string{}
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range image {
		set(kv)
	}
	for _, kv := range overrides {
		set(kv)
	}
	if _, ok := vals["PATH"]; !ok {
		set(defaultPath)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are
// skipped, as in Docker's --env-file.
func readEnvFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "=") || strings.ContainsAny(strings.SplitN(line, "=", 2)[0], " \t") {
			return nil, fmt.Errorf("--env-file %s line %d: invalid variable %q", name, n, line)
		}
		out = append(out, line)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	return out, nil
}

// hasEnv reports whether env sets key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// Workdir picks -w, else the image's WorkingDir, else /. It must be
// absolute, as in Docker.
func Workdir(cfg imgspecv1.ImageConfig, flag string) (string, error) {
	wd := flag
	if wd == "" {
		wd = cfg.WorkingDir
	}
	if wd == "" {
		return "/", nil
	}
	if !path.IsAbs(wd) {
		return "", fmt.Errorf("working directory %q is not an absolute path", wd)
	}
	return path.Clean(wd), nil
}
