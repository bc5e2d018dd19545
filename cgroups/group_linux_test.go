package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A group is made only for the controllers delegated; the rest are
// Missing; the limits land in each controller's own file, v1 or v2.
func TestGroup(t *testing.T) {
	root := t.TempDir()
	mem, pids := filepath.Join(root, "memory"), filepath.Join(root, "pids")
	for _, d := range []string{mem, pids} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := Report{Mode: "hybrid", Memory: mem, Pids: pids}
	l := Limits{Memory: 32 << 20, NanoCPUs: 5e8, Pids: -1}
	if got := r.Missing(l); !slices.Equal(got, []string{CPU}) {
		t.Errorf("Missing = %v, want [cpu]", got)
	}
	g, err := NewGroup(r, "lodger-x", l)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if got := read(filepath.Join(mem, "lodger-x", "memory.limit_in_bytes")); got != "33554432" {
		t.Errorf("memory.limit_in_bytes = %q", got)
	}
	if got := read(filepath.Join(pids, "lodger-x", "pids.max")); got != "max" {
		t.Errorf("pids.max = %q, want max for -1", got)
	}
	if g.Has(CPU) || !g.Has(Memory) || !g.Has(Pids) {
		t.Errorf("group %v: want memory and pids only", g.Dirs)
	}
	v2 := Group{Dirs: map[string]string{CPU: t.TempDir(), Memory: t.TempDir()}, V2: true}
	if err := v2.Set(Limits{NanoCPUs: 15e8, Memory: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(v2.Dirs[CPU], "cpu.max")); got != "150000 100000" {
		t.Errorf("cpu.max = %q, want 1.5 CPUs as 150000 100000", got)
	}
	if got := read(filepath.Join(v2.Dirs[Memory], "memory.max")); got != "1048576" {
		t.Errorf("memory.max = %q", got)
	}
	if text := r.LimitsText(); text != "--memory, --pids-limit applied, in cgroups of each container's own under the delegated ones; --cpus warned about, not applied" {
		t.Errorf("LimitsText = %q", text)
	}
	// v2: the delegated cgroup is lodger's own, with processes: no
	// container cgroup can go under it, so nothing is applied.
	if got := (Report{Mode: "v2", Memory: mem, Pids: pids}).Missing(l); !slices.Equal(got, []string{Memory, CPU, Pids}) {
		t.Errorf("v2 Missing = %v, want all", got)
	}
	if text := (Report{Mode: "hybrid"}).LimitsText(); text[:5] != "none:" {
		t.Errorf("LimitsText with nothing delegated = %q, want none: ...", text)
	}
}
