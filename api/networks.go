package api

import (
	"fmt"
	"net"
	"net/http"

	dnetwork "github.com/moby/moby/api/types/network"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/network"
)

// networks is the user's networks, as `lodger network` reads them: the
// predefined bridge (lodger's userspace stack, each container's own),
// host and none, and the user networks of package network.
func (s *Server) networks() *network.Store { return container.NetworkStore(s.o.Store) }

// listNetworks is GET /networks.
func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	nets, err := s.networks().List(network.ListOptions{Filters: filters})
	if err != nil {
		writeError(w, err)
		return
	}
	out := []dnetwork.Summary{}
	for _, n := range nets {
		out = append(out, n.Summary())
	}
	writeJSON(w, http.StatusOK, out)
}

// inspectNetwork is GET /networks/{id}.
func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	n, err := s.networks().Inspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.InspectNetwork(s.o.Store, n))
}

// createNetwork is POST /networks/create.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req dnetwork.CreateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Name == "" {
		writeError(w, badRequest("network create: a Name is required"))
		return
	}
	if req.Scope != "" && req.Scope != "local" {
		writeError(w, badRequest("network scope %q: lodger has local networks only", req.Scope))
		return
	}
	// Attachable is taken, as Docker's daemon takes it for a local
	// network (testcontainers' WithAttachable, compose's attachable).
	if req.Ingress || req.ConfigOnly || req.ConfigFrom != nil {
		writeError(w, notImplemented("network options Ingress, ConfigOnly and ConfigFrom are not implemented by lodger"))
		return
	}
	o := network.CreateOptions{Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: req.Options}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		writeError(w, badRequest("network create: EnableIPv4 false: a lodger network always has an IPv4 subnet (its gateway is its way out and resolver)"))
		return
	}
	if req.EnableIPv6 != nil {
		o.IPv6 = *req.EnableIPv6
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			writeError(w, badRequest("IPAM driver %q: lodger has the default one only", req.IPAM.Driver))
			return
		}
		for _, c := range req.IPAM.Config {
			o.Subnets = append(o.Subnets, network.SubnetOptions{Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange, AuxAddresses: c.AuxAddress})
		}
	}
	n, err := s.networks().Create(o)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, dnetwork.CreateResponse{ID: n.ID})
}

// removeNetwork is DELETE /networks/{id}.
func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if network.IsPredefined(id) {
		writeError(w, &statusError{code: http.StatusForbidden, err: fmt.Errorf("%s is a pre-defined network and cannot be removed", id)})
		return
	}
	if err := s.networks().Remove(id, false); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pruneNetworks is POST /networks/prune.
func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) {
	f, _, err := pruneFilters(r, "until", "label", "label!")
	if err != nil {
		writeError(w, err)
		return
	}
	names, err := s.networks().Prune(f)
	if err != nil {
		writeError(w, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, dnetwork.PruneReport{NetworksDeleted: names})
}

// connectNetwork is POST /networks/{id}/connect: the container joins
// the network, live when it runs (container.NetworkConnect, as `lodger
// network connect`).
func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request) {
	var req dnetwork.ConnectRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, badRequest("network connect: a Container is required"))
		return
	}
	var o container.NetworkConnectOptions
	if ep := req.EndpointConfig; ep != nil {
		o.Aliases = ep.Aliases
		if len(ep.MacAddress) > 0 {
			o.MAC = net.HardwareAddr(ep.MacAddress)
		}
		if c := ep.IPAMConfig; c != nil {
			o.IPv4, o.IPv6 = c.IPv4Address, c.IPv6Address
		}
	}
	if err := container.NetworkConnect(s.o.Store, r.PathValue("id"), req.Container, o); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// disconnectNetwork is POST /networks/{id}/disconnect.
func (s *Server) disconnectNetwork(w http.ResponseWriter, r *http.Request) {
	var req dnetwork.DisconnectRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, badRequest("network disconnect: a Container is required"))
		return
	}
	if err := container.NetworkDisconnect(s.o.Store, r.PathValue("id"), req.Container, req.Force); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
