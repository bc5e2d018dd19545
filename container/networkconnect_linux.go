package container

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/network/bridge"
	"github.com/lodger-containers/lodger/rootless"
)

// NetworkConnectOptions is `network connect`'s: the container's aliases
// and addresses on the network.
type NetworkConnectOptions struct {
	Aliases []string
	IPv4    netip.Addr
	IPv6    netip.Addr
	MAC     net.HardwareAddr // nil: derived from the endpoint
}

// NetworkConnect puts container ref on user network net: it gets an
// address there at once and, when running, its interface (the next free
// ethN) without a restart. A container on the default network keeps it
// (eth0, its way out and resolver) and gets the user network beside it;
// one with --network host shares the host's and is refused with
// network.ErrInvalid, as in Docker.
func NetworkConnect(store cstorage.Store, net, ref string, o NetworkConnectOptions) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	ns := in.Metadata.networkOf()
	if ns.Mode == NetworkHost {
		return network.Errorf(network.ErrInvalid, "container %s shares the host's network (--network host): it cannot be connected to another network", in.Name)
	}
	nets := NetworkStore(store)
	var hostname string
	if spec, err := loadSpec(store, in.ID); err == nil && spec.Hostname != in.ID[:12] {
		hostname = spec.Hostname // its --hostname
	}
	n, ep, err := nets.Connect(net, network.ConnectOptions{ContainerID: in.ID, Name: in.Name, Aliases: o.Aliases, IPv4: o.IPv4, IPv6: o.IPv6, MAC: o.MAC, Hostname: hostname, DNS: ns.DNS, Volatile: in.Metadata.Remove})
	if err != nil {
		return err
	}
	// The first network of a container with no link of its own is its
	// way out.
	first := len(ns.Networks) == 0 && ns.Mode != NetworkNetstack
	if ns.Mode == NetworkNone {
		ns.Mode = NetworkUser
	}
	ns.Networks = append(ns.Networks, UserNetwork{ID: n.ID, Name: n.Name, Aliases: o.Aliases})
	if err := setNetworkRecord(store, in, ns); err != nil {
		_, _, _ = nets.Disconnect(n.ID, in.ID, true)
		return err
	}
	a, err := attachment(nets, n, ep, "", first)
	if err != nil {
		return err
	}
	// Its monitor keeps this network's gateway from now on, and a
	// restart by policy plugs it again (also when the connect came
	// between two runs).
	updateAttachments(store, in, func(atts []bridge.Attachment) []bridge.Attachment { return append(atts, a) })
	if in.State.Status == monitor.StatusRunning {
		if err := bridge.Attach(in.State.Pid, a); err != nil {
			return fmt.Errorf("connect %s to network %s: %w (the container has an address there and gets its interface at its next start)", in.Name, n.Name, err)
		}
	}
	Journal().Emit(events.Network, "connect", n.ID, map[string]string{"container": in.ID, "name": n.Name, "type": network.DriverBridge})
	return nil
}

// NetworkDisconnect takes container ref off user network net: its
// address is given back and, when running, its interface there removed.
// force makes a container or network already gone no error.
func NetworkDisconnect(store cstorage.Store, net, ref string, force bool) error {
	if network.IsPredefined(net) || net == NetworkNetstack {
		return network.Errorf(network.ErrInvalid, "network %s: lodger takes containers off user networks only; the default network (bridge), host and none stay the container's until it is removed", net)
	}
	nets := NetworkStore(store)
	in, err := Get(store, ref)
	if err != nil {
		if force {
			if n, nerr := nets.Get(net); nerr == nil {
				for id, e := range n.Endpoints {
					if e.Name == ref || id == ref {
						_, _, _ = nets.Disconnect(n.ID, id, true)
					}
				}
			}
			return nil
		}
		return err
	}
	n, ep, err := nets.Disconnect(net, in.ID, force)
	if err != nil {
		return err
	}
	ns := in.Metadata.networkOf()
	ns.Networks = slices.DeleteFunc(ns.Networks, func(u UserNetwork) bool { return u.ID == n.ID })
	if ns.Mode == NetworkUser && len(ns.Networks) == 0 {
		ns = NetworkSettings{Mode: NetworkNone}
	}
	if err := setNetworkRecord(store, in, ns); err != nil {
		return err
	}
	dir := bridge.Dir(rootless.RunDir(), n.Name)
	updateAttachments(store, in, func(atts []bridge.Attachment) []bridge.Attachment {
		return slices.DeleteFunc(atts, func(x bridge.Attachment) bool { return x.Dir == dir })
	})
	if in.State.Status == monitor.StatusRunning && ep.MAC != "" {
		a, err := attachment(nets, n, ep, "", false)
		if err == nil {
			err = bridge.Detach(in.State.Pid, ep.MAC, a)
		}
		if err != nil {
			return fmt.Errorf("disconnect %s from network %s: %w", in.Name, n.Name, err)
		}
	}
	Journal().Emit(events.Network, "disconnect", n.ID, map[string]string{"container": in.ID, "name": n.Name, "type": network.DriverBridge})
	return nil
}

// updateAttachments changes the container's list of networks its
// monitor keeps and plugs at a restart by policy, and tells a running
// container's monitor. (A stopped container's list is written again by
// its next start.)
func updateAttachments(store cstorage.Store, in Info, change func([]bridge.Attachment) []bridge.Attachment) {
	runDir, err := store.ContainerRunDirectory(in.ID)
	if err != nil {
		return
	}
	if _, err := os.Stat(bridge.AttachmentsFile(runDir)); err != nil {
		return // a monitor of an older lodger, which keeps no list
	}
	atts, err := bridge.ReadAttachments(runDir)
	if err != nil {
		return
	}
	if err := bridge.WriteAttachments(runDir, change(atts)); err != nil {
		return
	}
	if in.State.Status == monitor.StatusRunning {
		bridge.Notify(in.State.MonitorPid, runDir)
	}
}

// setNetworkRecord replaces the container record's network settings,
// key by key, so that what this lodger does not know of survives.
func setNetworkRecord(store cstorage.Store, in Info, ns NetworkSettings) error {
	c, err := store.Container(in.ID)
	if err != nil {
		return err
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(c.Metadata), &rec); err != nil || rec == nil {
		return fmt.Errorf("read container record of %s: %v", in.Name, err)
	}
	if rec["network"], err = json.Marshal(ns); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := store.SetMetadata(in.ID, string(b)); err != nil {
		return fmt.Errorf("update container record of %s: %w", in.Name, err)
	}
	return nil
}

// attachment is what the attach helper needs to plug endpoint ep of
// network n into a container as ifname ("" for the next free ethN).
func attachment(nets *network.Store, n network.Network, ep network.Endpoint, ifname string, defaultRoute bool) (bridge.Attachment, error) {
	program, err := monitor.Path()
	if err != nil {
		return bridge.Attachment{}, err
	}
	a := bridge.Attachment{
		Network: n.Name, NetworkID: n.ID, Dir: bridge.Dir(rootless.RunDir(), n.Name), Record: nets.RecordPath(n.Name), Program: program,
		Interface: ifname, Veth: bridge.VethName(ep.ID), MAC: ep.MAC, MTU: n.MTU, DefaultRoute: defaultRoute,
	}
	if sn, ok := n.Subnet4(); ok && ep.IPv4.IsValid() {
		a.Address, a.Gateway = netip.PrefixFrom(ep.IPv4, sn.Subnet.Bits()), sn.Gateway
	}
	if sn, ok := n.Subnet6(); ok && ep.IPv6.IsValid() {
		a.Address6, a.Gateway6 = netip.PrefixFrom(ep.IPv6, sn.Subnet.Bits()), sn.Gateway
	}
	return a, nil
}
