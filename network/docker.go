package network

import (
	"net"
	"net/netip"
	"strconv"

	dnetwork "github.com/moby/moby/api/types/network"
)

// Inspect is the network as Docker's `network inspect` and the Engine
// API's GET /networks/{id} show it. Containers are the running ones
// where n.Running is known (a stopped container has no endpoint in
// Docker), else every container with an address.
func (n Network) Inspect() dnetwork.Inspect {
	out := dnetwork.Inspect{Network: n.summary(), Containers: map[string]dnetwork.EndpointResource{}}
	for id, e := range n.Endpoints {
		if n.Running != nil && !n.Running[id] {
			continue
		}
		r := dnetwork.EndpointResource{Name: e.Name, EndpointID: e.ID}
		if mac, err := net.ParseMAC(e.MAC); err == nil {
			r.MacAddress = dnetwork.HardwareAddr(mac)
		}
		if sn, ok := n.Subnet4(); ok && e.IPv4.IsValid() {
			r.IPv4Address = netip.PrefixFrom(e.IPv4, sn.Subnet.Bits())
		}
		if sn, ok := n.Subnet6(); ok && e.IPv6.IsValid() {
			r.IPv6Address = netip.PrefixFrom(e.IPv6, sn.Subnet.Bits())
		}
		out.Containers[id] = r
	}
	return out
}

// Summary is the network as the Engine API's GET /networks lists it.
func (n Network) Summary() dnetwork.Summary { return dnetwork.Summary{Network: n.summary()} }

func (n Network) summary() dnetwork.Network {
	d := dnetwork.Network{
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      "local",
		Driver:     n.Driver,
		EnableIPv4: n.Driver == DriverBridge,
		EnableIPv6: n.EnableIPv6,
		Internal:   n.Internal,
		Attachable: n.Attachable,
		IPAM:       dnetwork.IPAM{Driver: "default", Options: map[string]string{}, Config: []dnetwork.IPAMConfig{}},
		Options:    map[string]string{},
		Labels:     map[string]string{},
	}
	for k, v := range n.Options {
		d.Options[k] = v
	}
	// Options are those given at create, as Docker shows them; the
	// predefined bridge, which has none, shows its MTU as Docker's does.
	if n.Predefined && n.Driver == DriverBridge && n.MTU != 0 {
		d.Options["com.docker.network.driver.mtu"] = strconv.Itoa(n.MTU)
	}
	for k, v := range n.Labels {
		d.Labels[k] = v
	}
	for _, s := range n.Subnets {
		d.IPAM.Config = append(d.IPAM.Config, dnetwork.IPAMConfig{Subnet: s.Subnet, Gateway: s.Gateway, IPRange: s.IPRange, AuxAddress: s.AuxAddresses})
	}
	return d
}
