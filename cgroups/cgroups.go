// Package cgroups tells what this machine lets an unprivileged user do
// with control groups: which hierarchies exist (v1, v2, or both as
// hybrid) and which of them were delegated to the user, writable. lodger
// freezes, limits and measures containers through a cgroup only where one
// is delegated; elsewhere it falls back (signals for pause, /proc for
// stats) and says so in `lodger info` (issue 13).
package cgroups

import "strings"

// Report is what Detect found.
type Report struct {
	// Mode is "v2" (unified), "v1", "hybrid" (v1 controllers with a v2
	// tree beside them) or "none".
	Mode string `json:"mode"`
	// Freezer is the writable cgroup directory whose freezer lodger may
	// use (a v1 freezer hierarchy chowned to the user, or a delegated v2
	// cgroup with cgroup.freeze); empty when none is.
	Freezer string `json:"freezer,omitempty"`
	// FreezerV2 says Freezer is a v2 cgroup (cgroup.freeze) rather than
	// a v1 freezer (freezer.state).
	FreezerV2 bool `json:"freezerV2,omitempty"`
	// Memory, Pids and CPU are writable cgroup directories for those
	// controllers; empty when not delegated.
	Memory string `json:"memory,omitempty"`
	Pids   string `json:"pids,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// Pause mechanisms, as Report.PauseMechanism names them.
const (
	PauseFreezer = "cgroup freezer"
	PauseSignals = "signals (SIGSTOP to every process of the container's pid namespace)"
)

// PauseMechanism says how lodger pause stops a container here.
func (r Report) PauseMechanism() string {
	if r.Freezer != "" {
		return PauseFreezer
	}
	return PauseSignals
}

// StatsSource says where lodger stats reads its figures here: the sum
// over a container's processes in /proc, whatever is delegated.
func (r Report) StatsSource() string {
	return "/proc (the sum over the processes of the container's pid namespace; network from its eth0)"
}

// LimitsReason says why the limits needing the controllers missing are
// not applied here, for run's one-line warning and update's error.
func (r Report) LimitsReason(missing ...string) string {
	if r.Memory == "" && r.CPU == "" && r.Pids == "" {
		return "no writable cgroup is delegated to this user (cgroups " + r.Mode + "; a v1 hierarchy root chowned to you would give one)"
	}
	if r.Mode == "v2" {
		return "on cgroups v2 lodger does not yet make a container's cgroup beside the delegated one it runs in"
	}
	return "no writable " + strings.Join(missing, ", ") + " cgroup is delegated to this user"
}

// LimitsText says which resource limits lodger applies here, for info.
func (r Report) LimitsText() string {
	flags := map[string]string{Memory: "--memory", CPU: "--cpus", Pids: "--pids-limit"}
	var applied, not []string
	for _, c := range []string{Memory, CPU, Pids} {
		if r.dir(c) != "" {
			applied = append(applied, flags[c])
		} else {
			not = append(not, flags[c])
		}
	}
	if len(applied) == 0 {
		return "none: --memory, --cpus and --pids-limit are warned about, not applied: " + r.LimitsReason()
	}
	text := strings.Join(applied, ", ") + " applied, in cgroups of each container's own under the delegated ones"
	if len(not) > 0 {
		text += "; " + strings.Join(not, ", ") + " warned about, not applied"
	}
	return text
}

// Controllers a limit needs.
const (
	Memory = "memory"
	CPU    = "cpu"
	Pids   = "pids"
)

// Limits are the resource limits a container asks for (run's -m, --cpus
// and --pids-limit, update's); a zero field asks for nothing.
type Limits struct {
	Memory   int64 `json:"memory,omitempty"`   // bytes
	NanoCPUs int64 `json:"nanoCPUs,omitempty"` // CPUs × 10⁹
	Pids     int64 `json:"pids,omitempty"`     // processes; -1 unlimited
}

// IsZero says l asks for no limit.
func (l Limits) IsZero() bool { return l == Limits{} }

// Controllers are the controllers l needs, in a fixed order.
func (l Limits) Controllers() []string {
	var out []string
	if l.Memory != 0 {
		out = append(out, Memory)
	}
	if l.NanoCPUs != 0 {
		out = append(out, CPU)
	}
	if l.Pids != 0 {
		out = append(out, Pids)
	}
	return out
}

// dir is the delegated cgroup under which lodger makes a container's
// cgroup of controller c, or "". On cgroups v2 there is none yet: the
// delegated cgroup lodger finds is its own, which holds processes, and v2
// enables a controller for children only in a cgroup without any; a
// container cgroup would have to go beside it.
func (r Report) dir(c string) string {
	if r.Mode == "v2" {
		return ""
	}
	switch c {
	case Memory:
		return r.Memory
	case CPU:
		return r.CPU
	case Pids:
		return r.Pids
	}
	return ""
}

// Missing names the controllers l needs that r has no delegated cgroup
// for: those limits cannot be applied here.
func (r Report) Missing(l Limits) []string {
	var out []string
	for _, c := range l.Controllers() {
		if r.dir(c) == "" {
			out = append(out, c)
		}
	}
	return out
}
