package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/monitor"
)

// Sample is one reading of a container's resource use, as lodger stats
// shows it. lodger places no container in a cgroup of its own, so the
// figures are sums over the container's processes in /proc (issue 13):
// memory is their proportional set size (shared pages split among the
// processes sharing them), CPU time includes the children they reaped,
// and network counters are those of the container's network namespace.
type Sample struct {
	ID      string
	Name    string
	Running bool
	Paused  bool
	At      time.Time
	// CPU is the CPU time the processes used (with that of the children
	// they reaped).
	CPU time.Duration
	// Memory is the processes' proportional set size; MemoryLimit the
	// machine's memory, since no limit is applied.
	Memory, MemoryLimit uint64
	NetRx, NetTx        uint64
	BlockRead           uint64
	BlockWrite          uint64
	// PIDs counts tasks (threads), as the pids cgroup does.
	PIDs uint64
}

// CPUPercent is the share of one CPU used between prev and s, as Docker's
// CPU %: a container using two CPUs fully shows 200%.
func (s Sample) CPUPercent(prev Sample) float64 {
	wall := s.At.Sub(prev.At)
	if wall <= 0 || !s.Running || s.CPU < prev.CPU {
		return 0
	}
	return float64(s.CPU-prev.CPU) / float64(wall) * 100
}

// MemPercent is Memory as a share of MemoryLimit.
func (s Sample) MemPercent() float64 {
	if s.MemoryLimit == 0 {
		return 0
	}
	return float64(s.Memory) / float64(s.MemoryLimit) * 100
}

// Stats reads a sample of the container in.
func Stats(in Info) Sample {
	s := Sample{ID: in.ID, Name: in.Name, At: time.Now(), MemoryLimit: memTotal()}
	// Docker's LIMIT is the memory cgroup's, where the container has one.
	if l := in.Metadata.Limits.Memory; l > 0 && uint64(l) < s.MemoryLimit && in.State.Cgroup != nil && in.State.Cgroup.Has(cgroups.Memory) {
		s.MemoryLimit = uint64(l)
	}
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return s
	}
	s.Running, s.Paused = true, in.State.Paused
	pids, err := namespacePids(in.State.Pid)
	if err != nil {
		s.Running = false
		return s
	}
	for _, p := range pids {
		dir := "/proc/" + strconv.Itoa(p)
		cpu, threads := statTimes(dir)
		s.CPU += cpu
		s.PIDs += threads
		s.Memory += memoryOf(dir)
		r, w := ioBytes(dir)
		s.BlockRead += r
		s.BlockWrite += w
	}
	s.NetRx, s.NetTx = netBytes(in.State.Pid)
	return s
}

// statTimes reads utime, stime, cutime and cstime and the thread count of
// /proc/PID/stat.
func statTimes(dir string) (time.Duration, uint64) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3; field N is f[N-3].
	if len(f) < 18 {
		return 0, 0
	}
	var ticks int64
	for _, n := range []int{14, 15, 16, 17} {
		v, _ := strconv.ParseInt(f[n-3], 10, 64)
		ticks += v
	}
	threads, _ := strconv.ParseUint(f[20-3], 10, 64)
	return time.Duration(ticks) * time.Second / clockTicks, threads
}

// memoryOf is the Pss line of smaps_rollup, or VmRSS where that cannot be
// read, in bytes.
func memoryOf(dir string) uint64 {
	if v, ok := kbField(filepath.Join(dir, "smaps_rollup"), "Pss:"); ok {
		return v
	}
	v, _ := kbField(filepath.Join(dir, "status"), "VmRSS:")
	return v
}

// kbField reads a "Name: N kB" line.
func kbField(path, name string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				return 0, false
			}
			v, err := strconv.ParseUint(fs[0], 10, 64)
			return v * 1024, err == nil
		}
	}
	return 0, false
}

// ioBytes are the read_bytes and write_bytes of /proc/PID/io: what the
// process made the block layer fetch and write.
func ioBytes(dir string) (r, w uint64) {
	b, err := os.ReadFile(filepath.Join(dir, "io"))
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "read_bytes":
			r = n
		case "write_bytes":
			w = n
		}
	}
	return r, w
}

// netBytes sums the received and sent bytes of every interface but lo in
// pid's network namespace, as /proc/PID/net/dev shows it; nothing when
// that namespace is lodger's own (--network host), as Docker shows for a
// container on the host's network.
func netBytes(pid int) (rx, tx uint64) {
	dir := "/proc/" + strconv.Itoa(pid)
	theirs, err := os.Readlink(dir + "/ns/net")
	if own, _ := os.Readlink("/proc/self/ns/net"); err != nil || theirs == own {
		return 0, 0
	}
	b, err := os.ReadFile(dir + "/net/dev")
	if err != nil {
		return 0, 0
	}
	return parseNetDev(b)
}

// parseNetDev sums /proc/net/dev's receive and transmit byte columns over
// every interface but lo.
func parseNetDev(b []byte) (rx, tx uint64) {
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx
}

// memTotal is the machine's memory in bytes.
func memTotal() uint64 {
	v, _ := kbField("/proc/meminfo", "MemTotal:")
	return v
}

// StatsTargets are the containers lodger stats shows: refs as given, or
// every running one (every one with all).
func StatsTargets(store cstorage.Store, refs []string, all bool) ([]Info, error) {
	if len(refs) > 0 {
		out := make([]Info, 0, len(refs))
		for _, r := range refs {
			in, err := Get(store, r)
			if err != nil {
				return nil, err
			}
			out = append(out, in)
		}
		return out, nil
	}
	list, err := List(store)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := list[:0]
	for _, in := range list {
		if all || in.State.Status == monitor.StatusRunning {
			out = append(out, in)
		}
	}
	return out, nil
}
