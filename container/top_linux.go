package container

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
)

// Process is one process of a container as `top` lists it, read from the
// host's /proc: nothing of the container's own is run to list them (its
// ps could be anything, and would run with the container's privileges in
// our namespaces).
type Process struct {
	// UID is the real uid as the session sees it: the container's own
	// uid, except under --userns=keep-id.
	UID  int
	PID  int // as the host sees it
	PPID int
	// CPU is the share of one CPU used over the process's life, in
	// percent, as ps's C column.
	CPU   int
	Start time.Time
	TTY   string        // "?" for none
	Time  time.Duration // user and system CPU time
	Cmd   string
}

// Top lists the processes of a running container: those in its pid
// namespace, or with --pid=host the container process and its
// descendants.
func Top(store cstorage.Store, ref string) ([]Process, error) {
	in, err := Get(store, ref)
	if err != nil {
		return nil, err
	}
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return nil, fmt.Errorf("top %s: %w", in.Name, ErrNotRunning)
	}
	ps, err := listProcesses("/proc", in.State.Pid, time.Now())
	if errors.Is(err, ErrNotRunning) {
		return nil, fmt.Errorf("top %s: %w", in.Name, ErrNotRunning)
	}
	return ps, err
}

// clockTicks is USER_HZ, the unit of times in /proc/PID/stat: 100 on every
// Linux architecture (the kernel converts to it whatever its own HZ).
const clockTicks = 100

// listProcesses reads procRoot (normally /proc) for the processes in the
// pid namespace of pid, sorted by pid. When that namespace is procRoot's
// own (self), it lists pid and its descendants instead.
func listProcesses(procRoot string, pid int, now time.Time) ([]Process, error) {
	target, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "ns", "pid"))
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNotRunning)
	}
	own, _ := os.Readlink(filepath.Join(procRoot, "self", "ns", "pid"))
	boot := bootTime(procRoot)
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var all []Process
	inNS := map[int]bool{}
	for _, ent := range ents {
		p, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(procRoot, ent.Name())
		// A process of another user, or one gone since the listing,
		// cannot be read: it is not the container's either way.
		ns, err := os.Readlink(filepath.Join(dir, "ns", "pid"))
		if err != nil {
			continue
		}
		proc, err := readProcess(dir, p, boot, now)
		if err != nil {
			continue
		}
		all = append(all, proc)
		inNS[p] = ns == target
	}
	var out []Process
	if target == own {
		// --pid=host: the namespace is everybody's; follow the tree.
		tree := map[int]bool{pid: true}
		for changed := true; changed; {
			changed = false
			for _, p := range all {
				if !tree[p.PID] && tree[p.PPID] {
					tree[p.PID], changed = true, true
				}
			}
		}
		for _, p := range all {
			if tree[p.PID] {
				out = append(out, p)
			}
		}
	} else {
		for _, p := range all {
			if inNS[p.PID] {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNotRunning)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// readProcess reads one /proc/PID directory.
func readProcess(dir string, pid int, boot time.Time, now time.Time) (Process, error) {
	p := Process{PID: pid, TTY: "?"}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	// "PID (COMM) STATE PPID ...": the command name may hold spaces and
	// parentheses, so fields are counted from the last ')'.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("parse %s/stat", dir)
	}
	comm := string(stat[open+1 : end])
	f := strings.Fields(string(stat[end+1:]))
	// f[0] is field 3 (state); field N is f[N-3].
	if len(f) < 20 {
		return p, fmt.Errorf("parse %s/stat", dir)
	}
	num := func(field int) int64 {
		n, _ := strconv.ParseInt(f[field-3], 10, 64)
		return n
	}
	p.PPID = int(num(4))
	p.TTY = ttyName(num(7))
	ticks := num(14) + num(15)
	p.Time = time.Duration(ticks) * time.Second / clockTicks
	if !boot.IsZero() {
		p.Start = boot.Add(time.Duration(num(22)) * time.Second / clockTicks)
		if life := now.Sub(p.Start); life > 0 {
			p.CPU = int(p.Time * 100 / life)
		}
	}
	p.UID = statusUID(filepath.Join(dir, "status"))
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	cmdline = bytes.TrimRight(cmdline, "\x00")
	if len(cmdline) == 0 {
		p.Cmd = "[" + comm + "]"
	} else {
		p.Cmd = string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	return p, nil
}

// statusUID is the real uid on the Uid: line of a status file, or -1.
func statusUID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "Uid:"); ok {
			if fields := strings.Fields(rest); len(fields) > 0 {
				if n, err := strconv.Atoi(fields[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// bootTime is the btime line of procRoot/stat, or zero.
func bootTime(procRoot string) time.Time {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	return time.Time{}
}

// ttyName turns stat's tty_nr into ps's name for the terminal.
func ttyName(nr int64) string {
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case nr == 0:
		return "?"
	case major >= 136 && major <= 143: // Unix98 pseudo-terminals
		return "pts/" + strconv.FormatInt((major-136)<<8|minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatInt(minor, 10)
	case major == 4:
		return "ttyS" + strconv.FormatInt(minor-64, 10)
	}
	return "?"
}
