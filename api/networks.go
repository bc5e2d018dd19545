package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/netstack"
)

// The networks every lodger user has: "bridge", Docker's default network,
// is the userspace stack each container gets (netstack: its own
// namespace, NAT to the host's sockets); host and none are the modes of
// the same names.
var builtinNetworks = []struct{ name, driver string }{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}}

func networkID(name string) string {
	sum := sha256.Sum256([]byte("lodger network " + name))
	return hex.EncodeToString(sum[:])
}

// builtinNetwork is a built-in network in Docker's schema.
func builtinNetwork(name, driver string) network.Network {
	n := network.Network{Name: name, ID: networkID(name), Scope: "local", Driver: driver, EnableIPv4: name == "bridge",
		IPAM:    network.IPAM{Driver: "default", Config: []network.IPAMConfig{}, Options: map[string]string{}},
		Options: map[string]string{}, Labels: map[string]string{}}
	if name == "bridge" {
		n.IPAM.Config = []network.IPAMConfig{{Subnet: netip.PrefixFrom(netstack.Gateway, 24).Masked(), Gateway: netstack.Gateway}}
		n.Options["lodger.network.driver"] = container.NetworkNetstack
	}
	return n
}

// findBuiltin finds a built-in network by name, ID or ID prefix.
func findBuiltin(ref string) (name, driver string, ok bool) {
	for _, b := range builtinNetworks {
		if ref == b.name || (len(ref) >= 3 && strings.HasPrefix(networkID(b.name), ref)) {
			return b.name, b.driver, true
		}
	}
	return "", "", false
}

// listNetworks is GET /networks.
func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []network.Summary{}
	for _, b := range builtinNetworks {
		if !matchNetworkFilters(b.name, b.driver, filters) {
			continue
		}
		out = append(out, network.Summary{Network: builtinNetwork(b.name, b.driver)})
	}
	writeJSON(w, http.StatusOK, out)
}

func matchNetworkFilters(name, driver string, f map[string][]string) bool {
	for k, vs := range f {
		ok := false
		for _, v := range vs {
			switch k {
			case "name":
				ok = ok || strings.Contains(name, v)
			case "id":
				ok = ok || strings.HasPrefix(networkID(name), v)
			case "driver":
				ok = ok || v == driver
			case "type":
				ok = ok || v == "builtin"
			case "scope":
				ok = ok || v == "local"
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// inspectNetwork is GET /networks/{id}.
func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	name, driver, ok := findBuiltin(r.PathValue("id"))
	if !ok {
		writeError(w, notFound("network %s not found", r.PathValue("id")))
		return
	}
	n := network.Inspect{Network: builtinNetwork(name, driver), Containers: map[string]network.EndpointResource{}}
	infos, _ := container.List(s.o.Store)
	for _, in := range infos {
		if in.State.Status != monitor.StatusRunning || networkName(in) != name {
			continue
		}
		er := network.EndpointResource{Name: in.Name, EndpointID: networkID(in.ID)}
		if name == "bridge" {
			er.IPv4Address = netip.PrefixFrom(netstack.Guest, 24)
		}
		n.Containers[in.ID] = er
	}
	writeJSON(w, http.StatusOK, n)
}

// networkEndpoints is a container's networks as Docker's list shows them.
func networkEndpoints(in container.Info) map[string]*network.EndpointSettings {
	name := networkName(in)
	ep := &network.EndpointSettings{NetworkID: networkID(name), EndpointID: networkID(in.ID)}
	if name == "bridge" && in.State.Status == monitor.StatusRunning {
		ep.Gateway = netstack.Gateway
		ep.IPAddress = netstack.Guest
		ep.IPPrefixLen = 24
	}
	return map[string]*network.EndpointSettings{name: ep}
}

// userNetworks answers what needs user networks, which lodger does not
// have yet.
func (s *Server) userNetworks(w http.ResponseWriter, r *http.Request) {
	if name, _, ok := findBuiltin(r.PathValue("id")); ok && r.Method == http.MethodDelete {
		writeError(w, &statusError{code: http.StatusForbidden, err: errorf("%s is a pre-defined network and cannot be removed", name)})
		return
	}
	writeError(w, notImplemented("user-defined networks are not implemented by lodger yet: containers use the default network (bridge), host or none"))
}

// pruneNetworks is POST /networks/prune: the built-in networks are never
// pruned, and there are no others.
func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: []string{}})
}
