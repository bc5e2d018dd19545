package monitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"

	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/netstack/dns"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/network/bridge"
)

// OpenNetwork starts the network side of a container run, in the process
// that waits for the container: nil for a nil cfg (--network none and
// host), which only closes ls. logf gets what the user should read.
func OpenNetwork(cfg *netstack.Config, ls []ports.Listener, names dns.Names, logf func(string, ...any)) (*netstack.Network, error) {
	if cfg == nil {
		closeListeners(ls)
		return nil, nil
	}
	// This process now carries the container's traffic. Its live heap is
	// a few MiB, so at the default GOGC the collector runs every few
	// MiB of packets, and empties the stack's buffer pools each time;
	// 400 made bulk transfers ~10% faster (iperf3 through a published
	// port) at no cost when idle.
	debug.SetGCPercent(400)
	if cfg.LAN != nil {
		names = nil // the gateway resolves, not this process
	}
	return netstack.OpenNames(*cfg, ls, names, logf)
}

// NetworkEvents writes Docker's network event action (connect, as a
// container starts, before its start event; disconnect, as it ends,
// after its die) for each of its user networks, atts: Docker's daemon
// writes them as a container joins and leaves its networks, not only
// on network connect and disconnect.
func NetworkEvents(j *events.Journal, action, id string, atts []bridge.Attachment) {
	for _, a := range atts {
		nid := a.NetworkID
		if nid == "" {
			rec, err := network.ReadRecord(a.Record)
			if err != nil {
				continue // removed meanwhile
			}
			nid = rec.ID
		}
		j.Emit(events.Network, action, nid, map[string]string{"container": id, "name": a.Network, "type": network.DriverBridge})
	}
}

// Hooks ties a container's start to n (none for none and host) and to
// its user networks, atts. On the default network as well (n with a
// link of its own) its TAP is eth0, made first, and the user networks
// follow.
func Hooks(n *netstack.Network, atts []bridge.Attachment) exec.Hooks {
	attach := func(pid int) error {
		for _, a := range atts {
			if err := bridge.Attach(pid, a); err != nil {
				return err
			}
		}
		return nil
	}
	if n == nil {
		if len(atts) == 0 {
			return exec.Hooks{}
		}
		// --network none, connected to user networks while it ran.
		return exec.Hooks{Prestart: attach}
	}
	h := exec.Hooks{Prestart: n.Attach}
	if len(atts) > 0 && n.OwnLink() {
		h.Prestart = func(pid int) error {
			if err := n.Attach(pid); err != nil {
				return err
			}
			return attach(pid)
		}
	} else if len(atts) > 0 {
		h.Prestart = func(pid int) error {
			if err := attach(pid); err != nil {
				return err
			}
			return n.Attach(pid)
		}
	}
	if trap := n.Trap(); len(trap) > 0 {
		h.Connect, h.Trap = n.ServeConnect, trap
	}
	return h
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
