package container

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/volume"
)

// Kinds of mount a container takes from the command line.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// DefaultShmSize is the size of /dev/shm without --shm-size, as in Docker.
const DefaultShmSize = 64 << 20

// MountOptions are the flags that give a container file systems.
type MountOptions struct {
	// List is the mounts asked for (-v, --mount, --tmpfs; the API's
	// Binds, Mounts and Tmpfs), parsed by the front end.
	List []Mount
	// ReadOnly mounts the root file system read-only (--read-only).
	ReadOnly bool
	// ReadOnlyTmpfs puts writable tmpfs on /tmp and /run when ReadOnly
	// (--read-only-tmpfs, on by default in the CLI as in podman).
	ReadOnlyTmpfs bool
	// ShmSize is the size of /dev/shm in bytes; 0 means DefaultShmSize.
	ShmSize int64
}

// Mount is one file system asked for on the command line.
type Mount struct {
	Type string
	// Source is the host path of a bind, the name of a volume ("" for a
	// new anonymous one), nothing for tmpfs.
	Source      string
	Destination string
	ReadOnly    bool
	// Options are for the runtime: nosuid, nodev, noexec and, for tmpfs,
	// size= and mode= and their kin.
	Options []string
	// Chown gives the source to the container's user first (the U option).
	Chown bool
	// NoCopy leaves an empty volume empty rather than copying the
	// image's content at Destination into it.
	NoCopy bool
	// Flag is the flag and value the mount came from, for messages.
	Flag string
}

// ParseVolume parses a -v value: SRC:DST[:OPTS] where SRC is an absolute
// host path or a volume name, or DST alone for an anonymous volume. OPTS
// are comma-separated: ro, rw, U (chown the source to the container's
// user), nocopy, [no]exec, [no]suid, [no]dev, rprivate, and z or Z,
// accepted and ignored (there is no SELinux relabelling here).
func ParseVolume(v string) (Mount, error) {
	m := Mount{Flag: "-v " + v}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("-v %q: %s", v, fmt.Sprintf(format, a...))
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
		m.Type = MountVolume
	case filepath.IsAbs(src):
		m.Type, m.Source = MountBind, filepath.Clean(src)
	case strings.ContainsRune(src, '/') || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~"):
		return m, bad("relative bind source %s: give an absolute path, or a volume name", src)
	case !volume.ValidName(src):
		return m, bad("invalid volume name %q: use letters, digits, '_', '.' and '-', at least two, starting with a letter or digit", src)
	default:
		m.Type, m.Source = MountVolume, src
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
			if m.Type != MountVolume {
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

// ParseMount parses a --mount value: comma-separated KEY=VALUE fields (CSV,
// so values may be quoted) as in Docker: type=bind|volume|tmpfs (default
// volume), source|src, target|dst|destination, readonly|ro[=BOOL],
// bind-propagation=rprivate, volume-nocopy[=BOOL], tmpfs-size=SIZE,
// tmpfs-mode=OCTAL. A relative bind source is taken from the current
// directory, as Docker's CLI does.
func ParseMount(v string) (Mount, error) {
	m := Mount{Type: MountVolume, Flag: "--mount " + v}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--mount %q: %s", v, fmt.Sprintf(format, a...))
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
			if val != MountBind && val != MountVolume && val != MountTmpfs {
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
			only[key] = MountBind
		case "volume-nocopy":
			if m.NoCopy, err = boolVal(); err != nil {
				return m, err
			}
			only[key] = MountVolume
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil || n <= 0 {
				return m, bad("tmpfs-size=%s: want a positive size such as 64m", val)
			}
			tmpfsOpts = append(tmpfsOpts, "size="+strconv.FormatInt(n, 10))
			only[key] = MountTmpfs
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n > 0o7777 {
				return m, bad("tmpfs-mode=%s: want an octal mode such as 1777", val)
			}
			tmpfsOpts = append(tmpfsOpts, fmt.Sprintf("mode=%o", n))
			only[key] = MountTmpfs
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
	case MountBind:
		if src == "" {
			return m, bad("a bind needs source=PATH")
		}
		if m.Source, err = filepath.Abs(src); err != nil {
			return m, bad("source %s: %v", src, err)
		}
	case MountVolume:
		if src != "" && !volume.ValidName(src) {
			return m, bad("invalid volume name %q: use letters, digits, '_', '.' and '-', at least two, starting with a letter or digit", src)
		}
		m.Source = src
	case MountTmpfs:
		if hasSrc {
			return m, bad("a tmpfs takes no source")
		}
		m.Options = append(defaultTmpfsOptions(), tmpfsOpts...)
	}
	return m, nil
}

// defaultTmpfsOptions are Docker's for --tmpfs and --mount type=tmpfs.
func defaultTmpfsOptions() []string { return []string{"nosuid", "nodev", "noexec"} }

// sizeOption is a tmpfs size or inode count: a number with an optional
// k, m or g suffix, or a percentage of memory.
var sizeOption = regexp.MustCompile(`^[0-9]+([kKmMgG]|%)?$`)

// ParseTmpfs parses a --tmpfs value: DST[:OPTS], OPTS comma-separated
// from ro, rw, [no]exec, [no]suid, [no]dev, size=SIZE, mode=OCTAL, uid=N,
// gid=N, nr_inodes=N. Without options the tmpfs is nosuid, nodev and
// noexec, as in Docker.
func ParseTmpfs(v string) (Mount, error) {
	m := Mount{Type: MountTmpfs, Flag: "--tmpfs " + v}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--tmpfs %q: %s", v, fmt.Sprintf(format, a...))
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
				case strings.HasSuffix(val, "%") && sizeOption.MatchString(val):
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
				if !sizeOption.MatchString(val) || strings.HasSuffix(val, "%") {
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
	for _, f := range defaultTmpfsOptions() {
		if flags[f] {
			m.Options = append(m.Options, f)
		}
	}
	m.Options = append(m.Options, data...)
	return m, nil
}

// ParseShmSize parses a --shm-size value such as 64m or 1g into bytes.
func ParseShmSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--shm-size %q: want a positive size such as 64m or 1g", v)
	}
	return n, nil
}

// mountPlan is the container's file systems from the flags, checked.
type mountPlan struct {
	mounts   []Mount
	readOnly bool
}

// plan parses and checks every mount flag: syntax, bind sources that
// exist, one mount per destination. It runs before anything is pulled or
// created, so that bad input leaves nothing behind.
func (o MountOptions) plan() (mountPlan, error) {
	var p mountPlan
	p.readOnly = o.ReadOnly
	p.mounts = slices.Clone(o.List)
	byDst := map[string]string{}
	for _, m := range p.mounts {
		if prev, dup := byDst[m.Destination]; dup {
			return p, fmt.Errorf("%s: duplicate mount destination %s (also given by %s)", m.Flag, m.Destination, prev)
		}
		byDst[m.Destination] = m.Flag
		if m.Type != MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
			return p, fmt.Errorf("%s: bind source %s does not exist", m.Flag, m.Source)
		} else if err != nil {
			return p, fmt.Errorf("%s: bind source: %w", m.Flag, err)
		}
	}
	shm := int64(DefaultShmSize)
	if o.ShmSize > 0 {
		shm = o.ShmSize
	}
	// The user's own mounts win over lodger's.
	add := func(m Mount) {
		if _, taken := byDst[m.Destination]; !taken {
			p.mounts = append(p.mounts, m)
		}
	}
	add(Mount{Type: MountTmpfs, Destination: "/dev/shm", Flag: "--shm-size",
		Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}})
	if o.ReadOnly && o.ReadOnlyTmpfs {
		for _, d := range []string{"/tmp", "/run"} {
			add(Mount{Type: MountTmpfs, Destination: d, Flag: "--read-only-tmpfs", Options: []string{"nosuid", "nodev"}})
		}
	}
	return p, nil
}

// volumeNames are the volumes the plan mounts, in order; "" is a new
// anonymous volume.
func (p mountPlan) volumeNames() []string {
	var out []string
	for _, m := range p.mounts {
		if m.Type == MountVolume {
			out = append(out, m.Source)
		}
	}
	return out
}

// specMounts turns the plan into runtime mounts, with vols the volumes
// of volumeNames in the same order, after lodger's own mounts (its /etc
// files) that no user mount replaces.
func (p mountPlan) specMounts(own []specs.Mount, vols []volume.Volume) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range p.mounts {
		taken[m.Destination] = true
	}
	var out []specs.Mount
	for _, m := range own {
		if !taken[path.Clean(m.Destination)] {
			out = append(out, m)
		}
	}
	i := 0
	for _, m := range p.mounts {
		sm := specs.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source}
		switch m.Type {
		case MountVolume:
			sm.Type, sm.Source = "bind", vols[i].Mountpoint
			i++
			fallthrough
		case MountBind:
			sm.Options = []string{"rbind"}
		case MountTmpfs:
			sm.Source = "tmpfs"
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		sm.Options = append(sm.Options, m.Options...)
		out = append(out, sm)
	}
	return out
}
