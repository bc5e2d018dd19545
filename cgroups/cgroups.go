// Package cgroups tells what this machine lets an unprivileged user do
// with control groups: which hierarchies exist (v1, v2, or both as
// hybrid) and which of them were delegated to the user, writable. lodger
// freezes, limits and measures containers through a cgroup only where one
// is delegated; elsewhere it falls back (signals for pause, /proc for
// stats) and says so in `lodger info` (issue 13).
package cgroups

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

// StatsSource says where lodger stats reads its figures here. lodger does
// not yet place containers in cgroups of their own, so a container's
// figures are the sum over its processes in /proc, whatever is delegated.
func (r Report) StatsSource() string {
	return "/proc (the sum over the processes of the container's pid namespace; network from its eth0)"
}

// LimitsReason says why run's --memory, --cpus and --pids-limit are not
// applied here, for its one-line warning.
func (r Report) LimitsReason() string {
	if r.Memory == "" && r.CPU == "" && r.Pids == "" {
		return "no writable cgroup is delegated to this user (cgroups " + r.Mode + "; systemd's user delegation, or a hierarchy root chowned to you, would give one)"
	}
	return "lodger does not yet place containers in the cgroups delegated to this user"
}

// LimitsText says which resource limits lodger can apply here: none yet,
// and why; run warns when they are asked for.
func (r Report) LimitsText() string {
	return "none: --memory, --cpus and --pids-limit are warned about, not applied: " + r.LimitsReason()
}
