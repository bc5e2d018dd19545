package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Group is a container's own cgroups, one per controller it is limited
// by, made under the cgroups delegated to the user; lodger writes the
// container's limits there and places its init in them before the init
// runs anything, so everything the container starts is held by them.
type Group struct {
	// Dirs are the cgroup directories by controller.
	Dirs map[string]string `json:"dirs,omitempty"`
	V2   bool              `json:"v2,omitempty"`
}

// NewGroup makes the cgroups named name under r's delegated ones for the
// controllers l needs, and writes l; the controllers r lacks are left out
// (Missing names them). A Group with no Dirs needs nothing done.
func NewGroup(r Report, name string, l Limits) (Group, error) {
	g := Group{Dirs: map[string]string{}, V2: r.Mode == "v2"}
	for _, c := range l.Controllers() {
		parent := r.dir(c)
		if parent == "" {
			continue
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			g.Remove()
			return Group{}, fmt.Errorf("make %s cgroup: %w", c, err)
		}
		g.Dirs[c] = dir
	}
	if err := g.Set(l); err != nil {
		g.Remove()
		return Group{}, err
	}
	return g, nil
}

// Set writes the limits of l that g has a controller for.
func (g Group) Set(l Limits) error {
	type write struct{ controller, file, value string }
	var ws []write
	if l.Memory != 0 {
		if g.V2 {
			ws = append(ws, write{Memory, "memory.max", limitValue(l.Memory)})
		} else {
			ws = append(ws, write{Memory, "memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10)})
		}
	}
	if l.NanoCPUs != 0 {
		const period = 100000 // µs, Docker's
		quota := strconv.FormatInt(l.NanoCPUs*period/1e9, 10)
		if g.V2 {
			ws = append(ws, write{CPU, "cpu.max", quota + " " + strconv.Itoa(period)})
		} else {
			ws = append(ws, write{CPU, "cpu.cfs_period_us", strconv.Itoa(period)}, write{CPU, "cpu.cfs_quota_us", quota})
		}
	}
	if l.Pids != 0 {
		ws = append(ws, write{Pids, "pids.max", limitValue(l.Pids)})
	}
	for _, w := range ws {
		dir, ok := g.Dirs[w.controller]
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, w.file), []byte(w.value), 0o644); err != nil {
			return fmt.Errorf("set %s limit: %w", w.controller, err)
		}
	}
	return nil
}

// limitValue is n as a cgroup limit file takes it: "max" for unlimited.
func limitValue(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// Has says whether g holds a cgroup of controller c.
func (g Group) Has(c string) bool { _, ok := g.Dirs[c]; return ok }

// Add places process pid in every cgroup of g.
func (g Group) Add(pid int) error {
	for c, dir := range g.Dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("place the container in its %s cgroup: %w", c, err)
		}
	}
	return nil
}

// OOMKills is how many processes the kernel's OOM killer killed in g's
// memory cgroup (0 without one): the oom_kill count of v1's
// memory.oom_control or v2's memory.events.
func (g Group) OOMKills() int {
	dir, ok := g.Dirs[Memory]
	if !ok {
		return 0
	}
	file := "memory.oom_control"
	if g.V2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// Remove removes g's cgroups once the container's processes are gone;
// one still in use (a process left behind) stays.
func (g Group) Remove() {
	for _, dir := range g.Dirs {
		_ = syscall.Rmdir(dir)
	}
}
