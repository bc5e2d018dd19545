package container

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	dockercontainer "github.com/moby/moby/api/types/container"
	dnetwork "github.com/moby/moby/api/types/network"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/network/bridge"
	"github.com/lodger-containers/lodger/rootless"
)

// NetworkUser is the mode of a container on user networks
// (NetworkSettings.Networks).
const NetworkUser = "user"

// UserNetwork is one user network a container is on, in the order of its
// interfaces (eth0, eth1...). Its address lives in the network's record.
type UserNetwork struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`

	// ip, ip6 and mac are the addresses asked for on it (--ip, --ip6,
	// --mac-address, or the Engine API's endpoint), kept by the
	// network's record once connected.
	ip, ip6 netip.Addr
	mac     net.HardwareAddr
}

// EndpointOptions are a container's aliases and addresses on one user
// network (the Engine API's EndpointsConfig entry); zero addresses are
// picked.
type EndpointOptions struct {
	Aliases []string
	IPv4    netip.Addr
	IPv6    netip.Addr
	MAC     net.HardwareAddr
}

// NetworkStore returns the user networks of store's graph root, knowing
// from storage which containers still exist, starting a new network's
// gateway, taking a removed network's namespace and gateway down and
// writing Docker's network events (create, destroy) to the journal.
func NetworkStore(store cstorage.Store) *network.Store {
	return Networks(store.GraphRoot(), func() (cstorage.Store, error) { return store, nil })
}

// Networks is NetworkStore for a command that needs storage only to ask
// after a container (network create, ls, inspect, rm): store is called,
// and may open storage, only when a record names an endpoint old enough
// to check or a listing asks which containers run. Opening storage (its
// driver, its lock, its layer and container lists) was the one piece of
// work `network create` did beyond writing the record and starting the
// gateway. graphRoot must be the absolute graph root store would open.
func Networks(graphRoot string, store func() (cstorage.Store, error)) *network.Store {
	ns := network.New(graphRoot)
	ns.Exists = func(id string) bool {
		s, err := store()
		// Storage that cannot be read keeps the endpoint: an address
		// given twice is worse than one freed late.
		return err != nil || s.Exists(id)
	}
	ns.Teardown = func(n network.Network) error {
		err := bridge.Teardown(bridge.Dir(rootless.RunDir(), n.Name))
		Journal().Emit(events.Network, "destroy", n.ID, map[string]string{"name": n.Name, "type": network.DriverBridge})
		return err
	}
	ns.Created = func(n network.Network) {
		Journal().Emit(events.Network, "create", n.ID, map[string]string{"name": n.Name, "type": network.DriverBridge})
		// The network's namespace, bridge and gateway are made now, in
		// the background, while the user's next command starts: the
		// first container on the network then finds them (issue 14).
		// A failure here is the first attach's to report.
		if program, err := monitor.Path(); err == nil {
			_ = bridge.StartGateway(bridge.Dir(rootless.RunDir(), n.Name), ns.RecordPath(n.Name), program, n.MTU)
		}
	}
	ns.Running = func(id string) bool {
		s, err := store()
		if err != nil {
			return false
		}
		dir, err := s.ContainerRunDirectory(id)
		return err == nil && monitor.LoadState(dir).Status == monitor.StatusRunning
	}
	return ns
}

// userNetworkOptions are the flags that shape a container's endpoints.
type userNetworkOptions struct {
	aliases      []string
	ip, ip6, mac string
	// endpoints, by network as named in --network, win over the above,
	// which are for the first user network.
	endpoints map[string]EndpointOptions
}

// parseNetworks reads --network (repeatable): netstack (or Docker's
// bridge), none, host, or user networks by name or ID, which need store.
func parseNetworks(store cstorage.Store, modes []string, o userNetworkOptions) (NetworkSettings, error) {
	if len(modes) == 0 {
		modes = []string{""}
	}
	var users []string
	var builtin *NetworkSettings
	for _, m := range modes {
		name, _, _ := parseModeName(m)
		switch name {
		case "", NetworkNetstack, network.Bridge, NetworkNone, NetworkHost:
			if name == network.Bridge {
				m = NetworkNetstack
			}
			s, err := parseNetwork(m)
			if err != nil {
				return NetworkSettings{}, err
			}
			builtin = &s
		default:
			users = append(users, m)
		}
	}
	if builtin != nil && builtin.Mode != NetworkNetstack && len(modes) > 1 {
		return NetworkSettings{}, fmt.Errorf("--network %s: a container on none or host is on no other network, not both", builtin.Mode)
	}
	if builtin != nil && len(modes)-len(users) > 1 {
		return NetworkSettings{}, errors.New("--network: the default network (netstack, bridge) given twice")
	}
	if builtin != nil && len(users) == 0 {
		if len(o.aliases) > 0 || o.ip != "" || o.ip6 != "" || o.mac != "" {
			return NetworkSettings{}, errors.New("--network-alias, --ip, --ip6 and --mac-address are for user networks (lodger network create)")
		}
		return *builtin, nil
	}
	// User networks, and with the default network too (Docker's bridge
	// and user networks together): the default network's TAP is then
	// eth0 and its way out, the user networks follow from eth1 on.
	s := NetworkSettings{Mode: NetworkUser}
	if builtin != nil {
		s = *builtin
	}
	ns := NetworkStore(store)
	for i, m := range users {
		n, err := ns.Get(m)
		if err != nil {
			if errors.Is(err, network.ErrNotFound) {
				// network.ErrNotFound's words, wrapped: the API answers 404,
				// as Docker's daemon does for a network it does not know.
				return NetworkSettings{}, fmt.Errorf("--network %s: %w: create it with lodger network create %s", m, network.ErrNotFound, m)
			}
			return NetworkSettings{}, err
		}
		if slices.ContainsFunc(s.Networks, func(u UserNetwork) bool { return u.ID == n.ID }) {
			return NetworkSettings{}, fmt.Errorf("--network %s: given twice", m)
		}
		u := UserNetwork{ID: n.ID, Name: n.Name}
		if ep, ok := o.endpoints[m]; ok {
			if ep.IPv4.IsValid() && !ep.IPv4.Unmap().Is4() || ep.IPv6.IsValid() && !ep.IPv6.Is6() {
				return NetworkSettings{}, fmt.Errorf("network %s: addresses %s and %s: want an IPv4 and an IPv6 address", m, ep.IPv4, ep.IPv6)
			}
			u.Aliases, u.ip, u.ip6, u.mac = ep.Aliases, ep.IPv4.Unmap(), ep.IPv6, ep.MAC
		} else if i == 0 {
			u.Aliases = o.aliases
			if u.ip, u.ip6, err = parseIPFlags(o.ip, o.ip6); err != nil {
				return NetworkSettings{}, err
			}
			if o.mac != "" {
				if u.mac, err = net.ParseMAC(o.mac); err != nil {
					return NetworkSettings{}, fmt.Errorf("--mac-address %q: want a MAC address, such as 02:42:0a:59:00:02", o.mac)
				}
			}
		}
		s.Networks = append(s.Networks, u)
	}
	if len(users) > 0 {
		// --ip and --ip6 are checked even when an endpoint replaced them.
		if _, _, err := parseIPFlags(o.ip, o.ip6); err != nil {
			return NetworkSettings{}, err
		}
	}
	return s, nil
}

// parseIPFlags reads --ip and --ip6.
func parseIPFlags(ip, ip6 string) (v4, v6 netip.Addr, err error) {
	for flag, v := range map[string]string{"--ip": ip, "--ip6": ip6} {
		if v == "" {
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil || (flag == "--ip") != a.Is4() {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("%s %q: want an IPv%s address", flag, v, map[bool]string{true: "4", false: "6"}[flag == "--ip"])
		}
		if flag == "--ip" {
			v4 = a
		} else {
			v6 = a
		}
	}
	return v4, v6, nil
}

// parseModeName splits "netstack:opts".
func parseModeName(m string) (name, opts string, hasOpts bool) {
	for i := 0; i < len(m); i++ {
		if m[i] == ':' {
			return m[:i], m[i+1:], true
		}
	}
	return m, "", false
}

// connectUser gives container id (called name) its endpoints on its user
// networks; on failure none is left. A container removed at exit
// (volatile) gets volatile endpoints (see package network).
func (s *NetworkSettings) connectUser(store cstorage.Store, id, name, hostname string, volatile bool) error {
	if len(s.Networks) == 0 {
		return nil
	}
	ns := NetworkStore(store)
	for i, u := range s.Networks {
		o := network.ConnectOptions{ContainerID: id, Name: name, Aliases: u.Aliases, IPv4: u.ip, IPv6: u.ip6, MAC: u.mac, Hostname: hostname, DNS: s.DNS, Volatile: volatile}
		n, ep, err := ns.Connect(u.ID, o)
		if err != nil {
			_ = ns.Release(id)
			return fmt.Errorf("--network %s: %w", u.Name, err)
		}
		if i == 0 && s.Mode == NetworkUser {
			s.self = ep.IPv4
			if sn, ok := n.Subnet4(); ok {
				s.resolver = sn.Gateway
			}
		}
	}
	return nil
}

// userPlan is what a start of a container on user networks needs: the
// attachments its prestart makes and the configuration of its published
// ports (no stack of its own: the network's gateway is its way out).
func (s NetworkSettings) userPlan(store cstorage.Store, id string) (*netstack.Config, []bridge.Attachment, error) {
	if s.Mode != NetworkUser && (s.Mode != NetworkNetstack || len(s.Networks) == 0) {
		return s.stack(), nil, nil
	}
	if len(s.Networks) == 0 {
		return nil, nil, nil // disconnected from all: only lo, as --network none
	}
	ns := NetworkStore(store)
	cfg := netstack.DefaultConfig()
	// On the default network too: its stack is eth0 and the way out,
	// the user networks follow without a default route.
	first := 0
	if s.Mode == NetworkNetstack {
		cfg, first = *s.stack(), 1
	}
	var atts []bridge.Attachment
	for i, u := range s.Networks {
		n, err := ns.Get(u.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("network %s: %w", u.Name, err)
		}
		ep, ok := n.Endpoints[id]
		if !ok {
			return nil, nil, fmt.Errorf("network %s has no address for the container: disconnect and connect it again", n.Name)
		}
		a, err := attachment(ns, n, ep, fmt.Sprintf("eth%d", first+i), first == 0 && i == 0)
		if err != nil {
			return nil, nil, err
		}
		atts = append(atts, a)
		if i == 0 && first == 0 {
			cfg.LAN = &netstack.LAN{Subnet: a.Address.Masked(), Gateway: a.Gateway, Guest: ep.IPv4, Internal: n.Internal, Relay: bridge.RelaySocket(a.Dir)}
			cfg.IPv6 = a.Address6.IsValid()
			if cfg.IPv6 {
				cfg.LAN.Subnet6, cfg.LAN.Gateway6, cfg.LAN.Guest6 = a.Address6.Masked(), a.Gateway6, ep.IPv6
			}
		}
	}
	return &cfg, atts, nil
}

// warmUser starts the gateways of the container's user networks that
// have none, in the background (see bridge.Warm), and returns the wait
// for those starts; a no-op without user networks (on the default
// network with user networks beside it too). Errors are the prestart's
// to report.
func (s NetworkSettings) warmUser(store cstorage.Store, id string) (wait func()) {
	if len(s.Networks) == 0 {
		return func() {}
	}
	_, atts, err := s.userPlan(store, id)
	if err != nil {
		return func() {}
	}
	return bridge.Warm(atts)
}

// releaseUser gives up the container's addresses (it was not created, or
// is removed).
func (s NetworkSettings) releaseUser(store cstorage.Store, id string) {
	if s.Mode == NetworkUser || len(s.Networks) > 0 {
		_ = NetworkStore(store).Release(id)
	}
}

// addUserNetworks puts the container's user networks into r, as Docker's
// NetworkSettings.Networks and HostConfig.NetworkMode show them.
func addUserNetworks(store cstorage.Store, in Info, r *InspectReport) {
	ns := in.Metadata.networkOf()
	if len(ns.Networks) == 0 || r.NetworkSettings == nil {
		return
	}
	if ns.Mode == NetworkUser && r.HostConfig != nil {
		r.HostConfig.NetworkMode = dockercontainer.NetworkMode(ns.Networks[0].Name)
	}
	userEndpoints(store, in, r.NetworkSettings.Networks)
}

// InspectNetwork is n as Docker's network inspect shows it, for the
// CLI and the Engine API alike: the predefined bridge lists the
// running containers on lodger's default network, each in a stack of
// its own at the same address.
func InspectNetwork(store cstorage.Store, n network.Network) dnetwork.Inspect {
	rep := n.Inspect()
	if !n.Predefined || n.Name != network.Bridge {
		return rep
	}
	infos, _ := List(store)
	for _, in := range infos {
		if in.State.Status != monitor.StatusRunning || in.Metadata.networkOf().Mode != NetworkNetstack {
			continue
		}
		rep.Containers[in.ID] = dnetwork.EndpointResource{Name: in.Name, EndpointID: in.ID,
			IPv4Address: netip.PrefixFrom(netstack.Guest, netstack.Subnet.Bits())}
	}
	return rep
}

// NetworkEndpoints are the container's networks as Docker's
// NetworkSettings.Networks shows them, in inspect and in the Engine
// API's container list (docker ps's Networks column; compose compares
// them with a service's networks to decide whether to recreate it):
// its default, host or none network, and every user network.
func NetworkEndpoints(store cstorage.Store, in Info) map[string]*dnetwork.EndpointSettings {
	out := map[string]*dnetwork.EndpointSettings{}
	if name, ep, ok := builtinEndpoint(in); ok {
		out[name] = ep
	}
	userEndpoints(store, in, out)
	return out
}

// userEndpoints puts the container's user networks into eps. The
// address stays the container's for as long as it exists, but as in
// Docker only a running container shows it (and its gateway, MAC,
// endpoint and DNS names); a stopped one keeps its entries with those
// empty.
func userEndpoints(store cstorage.Store, in Info, eps map[string]*dnetwork.EndpointSettings) {
	ns := in.Metadata.networkOf()
	if len(ns.Networks) == 0 {
		return
	}
	nets := NetworkStore(store)
	for _, u := range ns.Networks {
		ep := &dnetwork.EndpointSettings{NetworkID: u.ID, Aliases: u.Aliases}
		if n, err := nets.Get(u.ID); err == nil {
			if e, ok := n.Endpoints[in.ID]; ok {
				if len(e.Static) > 0 {
					ep.IPAMConfig = &dnetwork.EndpointIPAMConfig{}
					for _, a := range e.Static {
						if a.Is4() {
							ep.IPAMConfig.IPv4Address = a
						} else {
							ep.IPAMConfig.IPv6Address = a
						}
					}
				}
				if in.State.Status != monitor.StatusRunning {
					eps[u.Name] = ep
					continue
				}
				ep.EndpointID = e.ID
				ep.DNSNames = e.Names()
				if mac, err := net.ParseMAC(e.MAC); err == nil {
					ep.MacAddress = dnetwork.HardwareAddr(mac)
				}
				if sn, ok := n.Subnet4(); ok && e.IPv4.IsValid() {
					ep.IPAddress, ep.IPPrefixLen, ep.Gateway = e.IPv4, sn.Subnet.Bits(), sn.Gateway
				}
				if sn, ok := n.Subnet6(); ok && e.IPv6.IsValid() {
					ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen, ep.IPv6Gateway = e.IPv6, sn.Subnet.Bits(), sn.Gateway
				}
			}
		}
		eps[u.Name] = ep
	}
}
