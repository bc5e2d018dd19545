package monitor

import (
	"net/netip"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/network/bridge"
)

// Request is what the CLI hands a new monitor on fd 3: the compiled
// container and every path the monitor writes to. The monitor never opens
// storage; the CLI worked the paths out from it.
type Request struct {
	ID   string      `json:"id"`
	Spec *specs.Spec `json:"spec"` // root already mounted by the CLI
	// RunDir is storage's run directory of the container: state.json and
	// the stop mark live there.
	RunDir string `json:"runDir"`
	// LogPath is the container's log, written as Log's driver says and
	// rotated to LogPath.1, .2... at its max-size.
	LogPath string          `json:"logPath"`
	Log     logfile.Options `json:"log"`
	// AttachSocket is where the monitor serves attach.
	AttachSocket string        `json:"attachSocket"`
	Restart      RestartPolicy `json:"restart"`
	Remove       bool          `json:"remove"` // --rm, recorded in the state
	// Interactive keeps the container's stdin open for attach; Attached
	// says the starting CLI attaches at once (run -it), so output before
	// it connects is kept for it.
	Interactive bool `json:"interactive,omitempty"`
	Attached    bool `json:"attached,omitempty"`
	// Netstack is the userspace network's configuration; nil for
	// --network none and host. The published host ports, bound by the
	// CLI, come as fds 5 and up, in the order of Ports.
	Netstack *netstack.Config `json:"netstack,omitempty"`
	Ports    []ports.Mapping  `json:"ports,omitempty"`
	// Networks are the user networks the container joins at each start
	// (Netstack then only serves its published ports, unless the
	// container is on the default network too).
	Networks []bridge.Attachment `json:"networks,omitempty"`
	// NetworkRecords is where the user networks' records are: a
	// container on the default network resolves the names of the user
	// networks it joins (bridge.ContainerNames).
	NetworkRecords string `json:"networkRecords,omitempty"`
	// DNS is the container's --dns, which the userspace network's
	// resolver asks when resolv.conf names it (a container on the
	// default network and user networks).
	DNS []netip.Addr `json:"dns,omitempty"`
	// Events is the user's event journal, where the monitor writes each
	// start and die of the container with EventAttrs (image, name,
	// labels), as Docker's daemon does.
	Events     string            `json:"events,omitempty"`
	EventAttrs map[string]string `json:"eventAttrs,omitempty"`
	// Limits are the container's resource limits, written into cgroups
	// of its own where the monitor's cgroups are delegated.
	Limits cgroups.Limits `json:"limits,omitzero"`
	// Volumes are the volumes the container mounts: each end of it is
	// a volume unmount event per volume, after die, as Docker's.
	Volumes []string `json:"volumes,omitempty"`
	// Health is the container's health check; nil for none.
	Health *health.Config `json:"health,omitempty"`
	// Cleanup runs once the container has ended for good (no restart
	// follows): the CLI's own command that unmounts the root filesystem
	// and, for --rm, deletes the container. The monitor waits for it, so
	// a monitor that is gone has cleaned up.
	Cleanup Command `json:"cleanup"`
}

// Command is a program the monitor runs: Args[0] is its path, Stdin what
// it reads.
type Command struct {
	Args  []string `json:"args"`
	Stdin []byte   `json:"stdin,omitempty"`
}

// firstPortFd is the monitor's fd of the first published port.
const firstPortFd = 5
