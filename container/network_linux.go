package container

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// Network modes.
const (
	NetworkNone     = "none"     // a network namespace with only lo
	NetworkHost     = "host"     // the host's network namespace
	NetworkNetstack = "netstack" // lodger's userspace stack (default)
)

// NetworkSettings is a container's --network, -p and -P, kept in its
// record for start and restarts.
type NetworkSettings struct {
	Mode     string           `json:"mode"`
	Netstack *netstack.Config `json:"netstack,omitempty"`
	// Publish is the ports asked for; a host port 0 is picked at start.
	Publish []ports.Mapping `json:"publish,omitempty"`
	// Networks are the user networks of mode NetworkUser.
	Networks []UserNetwork `json:"networks,omitempty"`
	// DNS is --dns: on user networks the gateway's resolver asks these
	// servers for names outside the network, for this container.
	DNS []netip.Addr `json:"dns,omitempty"`

	// self and resolver are the container's address and nameserver on
	// its first user network, once connected.
	self, resolver netip.Addr
}

// parseNetwork reads --network; the ports come later, with the image.
func parseNetwork(mode string) (NetworkSettings, error) {
	name, opts, hasOpts := strings.Cut(mode, ":")
	switch name {
	case "", NetworkNetstack:
		c, err := netstack.ParseOptions(opts)
		if err != nil {
			return NetworkSettings{}, fmt.Errorf("--network: %w", err)
		}
		return NetworkSettings{Mode: NetworkNetstack, Netstack: &c}, nil
	case NetworkNone, NetworkHost:
		if hasOpts {
			return NetworkSettings{}, fmt.Errorf("--network %q: %s takes no options", mode, name)
		}
		return NetworkSettings{Mode: name}, nil
	}
	return NetworkSettings{}, fmt.Errorf("--network %q: use netstack[:OPTIONS] (the default), none or host", mode)
}

// addPorts adds the parsed -p values and -P (the image's EXPOSE) to s.
func (s *NetworkSettings) addPorts(explicit []ports.Mapping, all bool, exposed map[string]struct{}) error {
	var err error
	var fromImage []ports.Mapping
	if all {
		if fromImage, err = ports.Exposed(exposed); err != nil {
			return err
		}
	}
	ms := ports.Merge(explicit, fromImage)
	if len(ms) == 0 {
		return nil
	}
	if s.Mode != NetworkUser && s.Mode != NetworkNetstack {
		return fmt.Errorf("-p and -P publish ports of the netstack network, not of --network %s", s.Mode)
	}
	if err := ports.Validate(ms); err != nil {
		return err
	}
	s.Publish = ms
	return nil
}

// bindPorts binds the host ports, all or none, in the CLI: a port in use
// fails the command before a monitor starts.
func (s NetworkSettings) bindPorts() ([]ports.Listener, error) {
	if len(s.Publish) == 0 {
		return nil, nil
	}
	return ports.Listen(s.Publish)
}

func closeListeners(ls []ports.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

func published(ls []ports.Listener) []ports.Mapping {
	var ms []ports.Mapping
	for _, l := range ls {
		ms = append(ms, l.Mapping)
	}
	return ms
}

// stack is the configuration of the userspace network, nil when the mode
// has none.
func (s NetworkSettings) stack() *netstack.Config {
	if s.Mode != NetworkNetstack {
		return nil
	}
	cfg := netstack.DefaultConfig()
	if s.Netstack != nil {
		cfg = *s.Netstack
	}
	return &cfg
}

// Ports is `lodger port`: the running container's published ports, or
// with want ("8080" or "8080/udp") the host addresses of that one port.
func Ports(in Info, want string) ([]string, error) {
	if in.State.Status != monitor.StatusRunning {
		return nil, nil
	}
	if want == "" {
		out := make([]string, 0, len(in.State.Ports))
		for _, m := range in.State.Ports {
			out = append(out, m.String())
		}
		return out, nil
	}
	port, proto, _ := strings.Cut(want, "/")
	if proto == "" {
		proto = "tcp"
	}
	var out []string
	for _, m := range in.State.Ports {
		if strconv.Itoa(int(m.ContainerPort)) == port && m.Protocol == proto {
			out = append(out, m.Host())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no public port %s/%s published for %s", port, proto, in.Name)
	}
	return out, nil
}
