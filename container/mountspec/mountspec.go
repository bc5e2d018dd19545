// Package mountspec parses Docker's string forms of a container mount
// into the library's container.Mount: SRC:DST[:OPTS] (the CLI's -v and
// the API's HostConfig.Binds), the comma-separated KEY=VALUE form of
// --mount, and DST[:OPTS] (--tmpfs, HostConfig.Tmpfs). Both front ends
// share the grammar; neither's words are in it: a value that does not
// parse is an *Error naming the form, the value and the reason, which the
// CLI phrases with its flag and the API with its field.
package mountspec

import (
	"encoding/csv"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/go-units"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/volume"
)

// Form is one of the string forms of a mount.
type Form int

const (
	// Volume is SRC:DST[:OPTS]: -v, and the API's Binds.
	Volume Form = iota
	// Mount is type=...,source=...,target=...: --mount.
	Mount
	// Tmpfs is DST[:OPTS]: --tmpfs, and the API's Tmpfs.
	Tmpfs
)

func (f Form) String() string {
	switch f {
	case Volume:
		return "volume"
	case Mount:
		return "mount"
	case Tmpfs:
		return "tmpfs"
	}
	return "Form(" + strconv.Itoa(int(f)) + ")"
}

// Error is a value that does not parse. It is a container.ErrInvalid:
// nothing was made.
type Error struct {
	Form  Form
	Value string
	// Reason says what is wrong and what to give instead.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Form, e.Value, e.Reason)
}

func (e *Error) Is(target error) bool { return target == container.ErrInvalid }

// Parse parses v in form f.
func Parse(f Form, v string) (container.Mount, error) {
	switch f {
	case Volume:
		return ParseVolume(v)
	case Mount:
		return ParseMount(v)
	case Tmpfs:
		return ParseTmpfs(v)
	}
	return container.Mount{}, fmt.Errorf("mount form %v: %w", f, container.ErrInvalid)
}

// ParseVolume parses SRC:DST[:OPTS] where SRC is an absolute host path
// or a volume name, or DST alone for an anonymous volume. OPTS are
// comma-separated: ro, rw, U (chown the source to the container's user),
// nocopy, [no]exec, [no]suid, [no]dev, rprivate, and z or Z, accepted and
// ignored (there is no SELinux relabelling here).
func ParseVolume(v string) (container.Mount, error) {
	var m container.Mount
	bad := func(format string, a ...any) error {
		return &Error{Form: Volume, Value: v, Reason: fmt.Sprintf(format, a...)}
	}
	parts := strings.Split(v, ":")
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
		if opts == "" {
			return m, bad("empty options after the last ':'")
		}
	default:
		return m, bad("too many ':': want SRC:DST[:OPTS]")
	}
	switch {
	case len(parts) > 1 && src == "":
		return m, bad("empty source: want SRC:DST[:OPTS]")
	case src == "":
		m.Type = container.MountVolume
	case filepath.IsAbs(src):
		m.Type, m.Source = container.MountBind, filepath.Clean(src)
	case strings.ContainsRune(src, '/') || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~"):
		return m, bad("relative bind source %s: give an absolute path, or a volume name", src)
	case !volume.ValidName(src):
		return m, bad("invalid volume name %q: use letters, digits, '_', '.' and '-', at least two, starting with a letter or digit", src)
	default:
		m.Type, m.Source = container.MountVolume, src
	}
	var err error
	if m.Destination, err = destination(dst); err != nil {
		return m, bad("%v", err)
	}
	if opts == "" {
		return m, nil
	}
	seen := map[string]string{}
	for _, o := range strings.Split(opts, ",") {
		group := o
		switch o {
		case "ro", "rw":
			group, m.ReadOnly = "ro/rw", o == "ro"
		case "z", "Z":
			group = "z/Z" // SELinux relabelling: nothing to do without SELinux
		case "U":
			m.Chown = true
		case "nocopy":
			if m.Type != container.MountVolume {
				return m, bad("nocopy applies to volumes, not to a bind of %s", m.Source)
			}
			m.NoCopy = true
		case "exec", "noexec", "suid", "nosuid", "dev", "nodev":
			group = strings.TrimPrefix(o, "no")
			if strings.HasPrefix(o, "no") {
				m.Options = append(m.Options, o)
			}
		case "rprivate", "private":
			group = "propagation" // what lodger does anyway
		case "":
			return m, bad("empty option")
		default:
			return m, bad("unknown option %q (want ro, rw, z, Z, U, nocopy, [no]exec, [no]suid, [no]dev)", o)
		}
		if prev, dup := seen[group]; dup {
			return m, bad("options %s and %s conflict", prev, o)
		}
		seen[group] = o
	}
	return m, nil
}

// destination checks a container path: absolute, and not / itself.
func destination(dst string) (string, error) {
	switch {
	case dst == "":
		return "", errors.New("empty destination")
	case !path.IsAbs(dst):
		return "", fmt.Errorf("destination %s is not an absolute path", dst)
	case path.Clean(dst) == "/":
		return "", errors.New("destination cannot be /")
	}
	return path.Clean(dst), nil
}

// ParseMount parses comma-separated KEY=VALUE fields (CSV, so values may
// be quoted) as Docker's --mount: type=bind|volume|tmpfs (default
// volume), source|src, target|dst|destination, readonly|ro[=BOOL],
// bind-propagation=rprivate, volume-nocopy[=BOOL], tmpfs-size=SIZE,
// tmpfs-mode=OCTAL. A relative bind source is taken from the current
// directory, as Docker's CLI does.
func ParseMount(v string) (container.Mount, error) {
	m := container.Mount{Type: container.MountVolume}
	bad := func(format string, a ...any) error {
		return &Error{Form: Mount, Value: v, Reason: fmt.Sprintf(format, a...)}
	}
	if strings.TrimSpace(v) == "" {
		return m, bad("empty: want type=bind|volume|tmpfs,source=SRC,target=DST")
	}
	r := csv.NewReader(strings.NewReader(v))
	fields, err := r.Read()
	if err != nil {
		return m, bad("%v", err)
	}
	var src, dst string
	var hasSrc bool
	// only records options that belong to one type, by the type.
	only := map[string]string{}
	var tmpfsOpts []string
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, bad("%s=%s: want true or false", key, val)
			}
			return b, nil
		}
		if !hasVal && key != "readonly" && key != "ro" && key != "volume-nocopy" {
			return m, bad("%q: want KEY=VALUE", f)
		}
		switch key {
		case "type":
			if val != container.MountBind && val != container.MountVolume && val != container.MountTmpfs {
				return m, bad("type %q: use bind, volume or tmpfs", val)
			}
			m.Type = val
		case "source", "src":
			src, hasSrc = val, true
		case "target", "dst", "destination":
			dst = val
		case "readonly", "ro":
			if m.ReadOnly, err = boolVal(); err != nil {
				return m, err
			}
		case "bind-propagation":
			if val != "rprivate" {
				return m, bad("bind-propagation=%s: only rprivate is supported (nothing propagates between a lodger container and the host)", val)
			}
			only[key] = container.MountBind
		case "volume-nocopy":
			if m.NoCopy, err = boolVal(); err != nil {
				return m, err
			}
			only[key] = container.MountVolume
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil || n <= 0 {
				return m, bad("tmpfs-size=%s: want a positive size such as 64m", val)
			}
			tmpfsOpts = append(tmpfsOpts, "size="+strconv.FormatInt(n, 10))
			only[key] = container.MountTmpfs
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n > 0o7777 {
				return m, bad("tmpfs-mode=%s: want an octal mode such as 1777", val)
			}
			tmpfsOpts = append(tmpfsOpts, fmt.Sprintf("mode=%o", n))
			only[key] = container.MountTmpfs
		case "consistency":
			// Docker Desktop's file sharing hint; nothing to do on Linux.
		default:
			return m, bad("unknown option %q", key)
		}
	}
	for opt, typ := range only {
		if typ != m.Type {
			return m, bad("%s applies to type=%s mounts, not type=%s", opt, typ, m.Type)
		}
	}
	if dst == "" {
		return m, bad("no target: give target=PATH")
	}
	if m.Destination, err = destination(dst); err != nil {
		return m, bad("%v", err)
	}
	switch m.Type {
	case container.MountBind:
		if src == "" {
			return m, bad("a bind needs source=PATH")
		}
		if m.Source, err = filepath.Abs(src); err != nil {
			return m, bad("source %s: %v", src, err)
		}
	case container.MountVolume:
		if src != "" && !volume.ValidName(src) {
			return m, bad("invalid volume name %q: use letters, digits, '_', '.' and '-', at least two, starting with a letter or digit", src)
		}
		m.Source = src
	case container.MountTmpfs:
		if hasSrc {
			return m, bad("a tmpfs takes no source")
		}
		m.Options = append(DefaultTmpfsOptions(), tmpfsOpts...)
	}
	return m, nil
}

// DefaultTmpfsOptions are Docker's for --tmpfs and --mount type=tmpfs.
func DefaultTmpfsOptions() []string { return []string{"nosuid", "nodev", "noexec"} }

// sizeOption is a tmpfs size or inode count: a number with an optional
// k, m or g suffix, or a percentage of memory.
var sizeOption = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+([kKmMgG]|%)?$`) })

// ParseTmpfs parses DST[:OPTS], OPTS comma-separated from ro, rw,
// [no]exec, [no]suid, [no]dev, size=SIZE, mode=OCTAL, uid=N, gid=N,
// nr_inodes=N. Without options the tmpfs is nosuid, nodev and noexec, as
// in Docker.
func ParseTmpfs(v string) (container.Mount, error) {
	m := container.Mount{Type: container.MountTmpfs}
	bad := func(format string, a ...any) error {
		return &Error{Form: Tmpfs, Value: v, Reason: fmt.Sprintf(format, a...)}
	}
	dst, opts, hasOpts := strings.Cut(v, ":")
	var err error
	if m.Destination, err = destination(dst); err != nil {
		return m, bad("%v", err)
	}
	flags := map[string]bool{"nosuid": true, "nodev": true, "noexec": true}
	var data []string
	if hasOpts {
		seen := map[string]string{}
		for _, o := range strings.Split(opts, ",") {
			key, val, hasVal := strings.Cut(o, "=")
			group := key
			switch {
			case !hasVal && (key == "ro" || key == "rw"):
				group, m.ReadOnly = "ro/rw", key == "ro"
			case !hasVal && slices.Contains([]string{"exec", "noexec", "suid", "nosuid", "dev", "nodev"}, key):
				group = strings.TrimPrefix(key, "no")
				flags["no"+group] = strings.HasPrefix(key, "no")
			case hasVal && key == "size":
				n, err := units.RAMInBytes(val)
				switch {
				case strings.HasSuffix(val, "%") && sizeOption().MatchString(val):
					data = append(data, o)
				case err != nil || n <= 0:
					return m, bad("size=%s: want a positive size such as 64m", val)
				default:
					data = append(data, "size="+strconv.FormatInt(n, 10))
				}
			case hasVal && key == "mode":
				n, err := strconv.ParseUint(val, 8, 32)
				if err != nil || n > 0o7777 {
					return m, bad("mode=%s: want an octal mode such as 1777", val)
				}
				data = append(data, fmt.Sprintf("mode=%o", n))
			case hasVal && (key == "uid" || key == "gid"):
				if _, err := strconv.ParseUint(val, 10, 32); err != nil {
					return m, bad("%s=%s: want a number", key, val)
				}
				data = append(data, o)
			case hasVal && key == "nr_inodes":
				if !sizeOption().MatchString(val) || strings.HasSuffix(val, "%") {
					return m, bad("nr_inodes=%s: want a number", val)
				}
				data = append(data, o)
			case o == "":
				return m, bad("empty option")
			default:
				return m, bad("unknown option %q (want ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, uid=, gid=, nr_inodes=)", o)
			}
			if prev, dup := seen[group]; dup {
				return m, bad("options %s and %s conflict", prev, o)
			}
			seen[group] = o
		}
	}
	for _, f := range DefaultTmpfsOptions() {
		if flags[f] {
			m.Options = append(m.Options, f)
		}
	}
	m.Options = append(m.Options, data...)
	return m, nil
}
