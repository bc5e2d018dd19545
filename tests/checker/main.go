// Command checker describes the process it runs as, as JSON on stdout:
// identity, capability sets, no_new_privs, seccomp mode, resource limits,
// open file descriptors, mounts, host name, working directory and
// environment. The end-to-end tests run it inside containers and compare
// each field with what the lodger flags asked for, in the spirit of the OCI
// runtime-tools validation suite.
//
// It is built static (CGO_ENABLED=0) and packed into the test image
// lodger-test/checker by `imagegen -checker`.
//
// It only reads: nothing in it may change the process it describes. The
// descriptor listing comes first and uses raw system calls, because the Go
// runtime opens descriptors of its own (the netpoller's epoll and eventfd)
// the first time an *os.File is used, and those would be reported as
// leaked by the runtime under test. For the same reason the runtime is
// told not to read its cgroup's CPU limit: since Go 1.25 it keeps the
// cgroup's cpu.max (or cpu.cfs_quota_us) open to follow changes.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Report is the JSON document checker prints. tests/e2e decodes the same
// field names.
type Report struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"`
	PID    int   `json:"pid"`

	// Capabilities holds CapInh, CapPrm, CapEff, CapBnd and CapAmb from
	// /proc/self/status.
	Capabilities map[string]CapSet `json:"capabilities"`
	// CapLastCap is /proc/sys/kernel/cap_last_cap: every capability of
	// the user namespace is the mask of bits 0..CapLastCap.
	CapLastCap int `json:"capLastCap"`
	NoNewPrivs int `json:"noNewPrivs"`
	// Seccomp is the mode: 0 none, 1 strict, 2 filter.
	Seccomp        int    `json:"seccomp"`
	SeccompFilters int    `json:"seccompFilters"`
	Umask          string `json:"umask"`

	Rlimits map[string]Rlimit `json:"rlimits"`
	// FDs maps each open descriptor to what /proc/self/fd says it is,
	// leaving out the one used to list them.
	FDs    map[int]string `json:"fds"`
	Mounts []Mount        `json:"mounts"`

	Hostname string   `json:"hostname"`
	Cwd      string   `json:"cwd"`
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	UIDMap   []string `json:"uidMap"`
	GIDMap   []string `json:"gidMap"`

	// Errors lists what could not be read; the tests want it empty.
	Errors []string `json:"errors,omitempty"`
}

// CapSet is one capability set as the kernel prints it and by name.
type CapSet struct {
	Hex   string   `json:"hex"`
	Names []string `json:"names"`
}

// Rlimit is a soft and hard limit; RLIM_INFINITY prints as -1.
type Rlimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Mountpoint   string   `json:"mountpoint"`
	Root         string   `json:"root"`
	FSType       string   `json:"fstype"`
	Source       string   `json:"source"`
	Options      []string `json:"options"`
	SuperOptions []string `json:"superOptions"`
}

func main() {
	var r Report
	// First, before anything touches an *os.File.
	r.FDs = openFDs(&r)
	r.UID, r.GID = syscall.Getuid(), syscall.Getgid()
	r.EUID, r.EGID = syscall.Geteuid(), syscall.Getegid()
	r.PID = syscall.Getpid()
	groups, err := syscall.Getgroups()
	r.fail("getgroups", err)
	sort.Ints(groups)
	r.Groups = append([]int{}, groups...)

	r.readStatus()
	if s, err := readFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		r.CapLastCap, err = strconv.Atoi(strings.TrimSpace(s))
		r.fail("cap_last_cap", err)
	} else {
		r.fail("cap_last_cap", err)
	}
	r.Rlimits = rlimits(&r)
	r.Mounts = mounts(&r)

	var uts syscall.Utsname
	r.fail("uname", syscall.Uname(&uts))
	r.Hostname = cString(uts.Nodename[:])
	r.Cwd, err = syscall.Getwd()
	r.fail("getwd", err)
	r.Args = os.Args
	r.Env = os.Environ()
	for _, m := range []struct {
		file string
		dst  *[]string
	}{{"/proc/self/uid_map", &r.UIDMap}, {"/proc/self/gid_map", &r.GIDMap}} {
		s, err := readFile(m.file)
		r.fail(m.file, err)
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if l != "" {
				*m.dst = append(*m.dst, strings.Join(strings.Fields(l), " "))
			}
		}
	}

	out, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}

func (r *Report) fail(what string, err error) {
	if err != nil {
		r.Errors = append(r.Errors, what+": "+err.Error())
	}
}

// readFile reads a whole (small, /proc) file with raw system calls.
func readFile(path string) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var b bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b.String(), nil
		}
		b.Write(buf[:n])
	}
}

// openFDs lists /proc/self/fd with getdents, leaving out its own
// descriptor.
func openFDs(r *Report) map[int]string {
	fds := map[int]string{}
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		r.fail("open /proc/self/fd", err)
		return fds
	}
	defer syscall.Close(dir)
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil {
			r.fail("read /proc/self/fd", err)
			return fds
		}
		if n == 0 {
			return fds
		}
		for _, name := range direntNames(buf[:n]) {
			fd, err := strconv.Atoi(name)
			if err != nil || fd == dir {
				continue
			}
			target := make([]byte, 4096)
			m, err := syscall.Readlink("/proc/self/fd/"+name, target)
			if err != nil {
				fds[fd] = "?" + err.Error()
				continue
			}
			fds[fd] = string(target[:m])
		}
	}
}

// direntNames decodes linux_dirent64 records.
func direntNames(buf []byte) []string {
	var names []string
	for len(buf) >= 19 {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[16])))
		if reclen == 0 || reclen > len(buf) {
			break
		}
		name := cString(toInt8(buf[19:reclen]))
		if name != "." && name != ".." {
			names = append(names, name)
		}
		buf = buf[reclen:]
	}
	return names
}

func toInt8(b []byte) []int8 {
	out := make([]int8, len(b))
	for i, c := range b {
		out[i] = int8(c)
	}
	return out
}

func cString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// readStatus fills the capability sets, no_new_privs, seccomp and umask
// from /proc/self/status.
func (r *Report) readStatus() {
	s, err := readFile("/proc/self/status")
	if err != nil {
		r.fail("status", err)
		return
	}
	r.Capabilities = map[string]CapSet{}
	for _, l := range strings.Split(s, "\n") {
		key, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			mask, err := strconv.ParseUint(val, 16, 64)
			r.fail(key, err)
			r.Capabilities[key] = CapSet{Hex: val, Names: capNames(mask)}
		case "NoNewPrivs":
			r.NoNewPrivs, err = strconv.Atoi(val)
			r.fail(key, err)
		case "Seccomp":
			r.Seccomp, err = strconv.Atoi(val)
			r.fail(key, err)
		case "Seccomp_filters":
			r.SeccompFilters, err = strconv.Atoi(val)
			r.fail(key, err)
		case "Umask":
			r.Umask = val
		}
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if _, ok := r.Capabilities[k]; !ok {
			r.Errors = append(r.Errors, "status: no "+k)
		}
	}
}

// capabilityNames is capabilities(7), by number.
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

func capNames(mask uint64) []string {
	names := []string{}
	for c := 0; c < 64; c++ {
		if mask&(1<<c) == 0 {
			continue
		}
		if c < len(capabilityNames) {
			names = append(names, capabilityNames[c])
		} else {
			names = append(names, "CAP_"+strconv.Itoa(c))
		}
	}
	return names
}

var rlimitNames = []struct {
	name     string
	resource int
}{
	{"RLIMIT_AS", unix.RLIMIT_AS},
	{"RLIMIT_CORE", unix.RLIMIT_CORE},
	{"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_DATA", unix.RLIMIT_DATA},
	{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE},
	{"RLIMIT_NPROC", unix.RLIMIT_NPROC},
	{"RLIMIT_STACK", unix.RLIMIT_STACK},
}

// rlimits reads the limits. The Go runtime raises its own soft
// RLIMIT_NOFILE to the hard limit minus one before main runs
// (go.dev/issue/46279), so that soft limit says nothing about what the
// runtime under test gave; ask a non-Go program (busybox ulimit -Sn).
func rlimits(r *Report) map[string]Rlimit {
	out := map[string]Rlimit{}
	for _, l := range rlimitNames {
		var lim unix.Rlimit
		if err := unix.Getrlimit(l.resource, &lim); err != nil {
			r.fail(l.name, err)
			continue
		}
		out[l.name] = Rlimit{Soft: infinite(lim.Cur), Hard: infinite(lim.Max)}
	}
	return out
}

func infinite(v uint64) int64 {
	if v == ^uint64(0) {
		return -1
	}
	return int64(v)
}

// mounts parses /proc/self/mountinfo (proc(5)): ID PARENT MAJ:MIN ROOT
// MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS.
func mounts(r *Report) []Mount {
	s, err := readFile("/proc/self/mountinfo")
	if err != nil {
		r.fail("mountinfo", err)
		return nil
	}
	var out []Mount
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(l)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			r.Errors = append(r.Errors, "mountinfo: bad line "+strconv.Quote(l))
			continue
		}
		m := Mount{
			Root:       unescape(f[3]),
			Mountpoint: unescape(f[4]),
			Options:    strings.Split(f[5], ","),
			FSType:     f[sep+1],
			Source:     unescape(f[sep+2]),
		}
		if sep+3 < len(f) {
			m.SuperOptions = strings.Split(f[sep+3], ",")
		}
		out = append(out, m)
	}
	return out
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and
// backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
