package container

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/lodger-containers/lodger/exec"
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
	if s.Mode != NetworkNetstack {
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

// listenerFiles dups the listeners' sockets for the monitor.
func listenerFiles(ls []ports.Listener) ([]*os.File, error) {
	var files []*os.File
	for _, l := range ls {
		var f *os.File
		var err error
		if l.TCP != nil {
			f, err = l.TCP.File()
		} else {
			f, err = l.UDP.File()
		}
		if err != nil {
			closeFiles(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// listenersFrom turns the sockets the monitor inherited back into
// listeners.
func listenersFrom(ms []ports.Mapping, files []*os.File) ([]ports.Listener, error) {
	if len(ms) != len(files) {
		return nil, errors.New("published ports and inherited sockets differ")
	}
	var ls []ports.Listener
	for i, m := range ms {
		l := ports.Listener{Mapping: m}
		if m.Protocol == "udp" {
			pc, err := net.FilePacketConn(files[i])
			if err == nil {
				l.UDP, _ = pc.(*net.UDPConn)
			}
			if l.UDP == nil {
				closeListeners(ls)
				return nil, fmt.Errorf("inherited socket for %s: %v", m, err)
			}
		} else {
			ln, err := net.FileListener(files[i])
			if err == nil {
				l.TCP, _ = ln.(*net.TCPListener)
			}
			if l.TCP == nil {
				closeListeners(ls)
				return nil, fmt.Errorf("inherited socket for %s: %v", m, err)
			}
		}
		files[i].Close()
		ls = append(ls, l)
	}
	return ls, nil
}

func published(ls []ports.Listener) []ports.Mapping {
	var ms []ports.Mapping
	for _, l := range ls {
		ms = append(ms, l.Mapping)
	}
	return ms
}

// openNetwork starts the network side of a container run: nil for none
// and host. logf gets what the user should read.
func (s NetworkSettings) open(ls []ports.Listener, logf func(string, ...any)) (*netstack.Network, error) {
	if s.Mode != NetworkNetstack {
		closeListeners(ls)
		return nil, nil
	}
	cfg := netstack.DefaultConfig()
	if s.Netstack != nil {
		cfg = *s.Netstack
	}
	// This process now carries the container's traffic. Its live heap is
	// a few MiB, so at the default GOGC the collector runs every few
	// MiB of packets, and empties the stack's buffer pools each time;
	// 400 made bulk transfers ~10% faster (iperf3 through a published
	// port) at no cost when idle.
	debug.SetGCPercent(400)
	return netstack.Open(cfg, ls, logf)
}

// hooks ties a container's start to n (none for none and host).
func hooks(n *netstack.Network) exec.Hooks {
	if n == nil {
		return exec.Hooks{}
	}
	h := exec.Hooks{Prestart: n.Attach}
	if n.Bypass() {
		h.Connect = n.ServeConnect
	}
	return h
}

// Ports is `lodger port`: the running container's published ports, or
// with want ("8080" or "8080/udp") the host addresses of that one port.
func Ports(in Info, want string) ([]string, error) {
	if in.State.Status != StatusRunning {
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
