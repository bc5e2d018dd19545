// Package network keeps lodger's user networks: their records, the
// addresses handed to containers on them (IPAM), and Docker's view of
// both.
//
// A network NAME is the file <graphroot>/networks/NAME.json. Every change
// (Create, Remove, Prune, Connect, Disconnect) takes an exclusive flock on
// <graphroot>/networks/.lock, reads the records it needs, and replaces
// them atomically (temp file, fsync, rename), so two lodger commands never
// hand out one address twice. Readers take no lock: a record is always
// whole.
//
// The endpoints of containers removed at exit (run --rm: Volatile) are
// kept apart, in <graphroot>/networks/volatile/NAME.json, replaced the same
// way but without the fsync: such a container does not outlive a crash,
// and its endpoint need not either, while an fsync there cost every
// `run --rm` on a network 1-8 ms (it waits for whatever else the
// filesystem has to write). ReadRecord merges the two; a volatile file a
// crash left unreadable is taken as empty.
//
// A record holds an endpoint for every container connected to the
// network, created with the container (run/create --network) or by
// Connect, and released when the container is removed or disconnected:
// the container keeps its address across restarts. Which containers exist
// is the caller's knowledge; Store.Exists lets List and Remove forget
// endpoints of containers removed behind lodger's back.
//
// The kernel side — the network's namespace, bridge, veth pairs and the
// gateway process — is package network/bridge; this package never
// touches the kernel, so that it builds and tests anywhere.
package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	stdbits "math/bits"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lodger-containers/lodger/internal/prunefilter"
)

// Errors callers branch on (the CLI maps them to messages, the API to
// 404, 409 and 400).
var (
	ErrNotFound = errors.New("no such network")
	ErrConflict = errors.New("conflict")
	ErrInUse    = errors.New("in use")
	ErrInvalid  = errors.New("invalid")
)

// kindError is an error of a kind callers branch on, whose message reads
// without the kind's name.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func kindErr(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Errorf is an error of kind (ErrNotFound, ErrConflict, ErrInUse,
// ErrInvalid) for errors.Is, whose message is only the formatted text.
func Errorf(kind error, format string, args ...any) error { return kindErr(kind, format, args...) }

// Drivers and the predefined networks.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"

	// Bridge is Docker's default network's name: in lodger the
	// per-container userspace network (--network netstack), which every
	// `network ls` lists so that clients looking for it find it.
	Bridge = "bridge"
	Host   = "host"
	None   = "none"
)

// DefaultMTU is a new network's MTU: as the default network's, one frame
// carries a 64 KiB TCP segment to and from the gateway.
const DefaultMTU = 65520

// Network is a user network's record.
type Network struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Driver     string    `json:"driver"`
	Created    time.Time `json:"created"`
	Internal   bool      `json:"internal,omitempty"`
	EnableIPv6 bool      `json:"enableIPv6,omitempty"`
	// Attachable is Docker's flag, kept and shown: it matters for
	// swarm-scoped networks only, a local one is always attachable.
	Attachable bool              `json:"attachable,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Subnets: one IPv4, and with EnableIPv6 one IPv6.
	Subnets []Subnet `json:"subnets"`
	MTU     int      `json:"mtu"`
	// Endpoints by container ID.
	Endpoints map[string]Endpoint `json:"endpoints,omitempty"`
	// Predefined is set for bridge, host and none, which have no record.
	Predefined bool `json:"-"`
	// Running, when not nil, is the set of the endpoints' containers
	// that run (Store.Get fills it where Store.Running is set): Inspect
	// lists only those, as Docker's network inspect does.
	Running map[string]bool `json:"-"`
}

// Subnet is one of a network's address ranges.
type Subnet struct {
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// IPRange, when set, is where addresses are picked from.
	IPRange netip.Prefix `json:"ipRange,omitzero"`
	// AuxAddresses are addresses no container gets (Docker's
	// --aux-address: a router or host already on the subnet), by name.
	AuxAddresses map[string]netip.Addr `json:"auxAddresses,omitempty"`
}

// Endpoint is a container's place on a network.
type Endpoint struct {
	ID          string   `json:"id"`
	ContainerID string   `json:"containerID"`
	Name        string   `json:"name"` // the container's name
	Aliases     []string `json:"aliases,omitempty"`
	// Hostname is the container's --hostname, one of its DNS names as
	// in Docker (without one its hostname is its short ID).
	Hostname string       `json:"hostname,omitempty"`
	IPv4     netip.Addr   `json:"ipv4,omitzero"`
	IPv6     netip.Addr   `json:"ipv6,omitzero"`
	MAC      string       `json:"mac"`
	Static   []netip.Addr `json:"static,omitempty"` // --ip, kept by a restart
	// DNS is the container's --dns: the gateway's resolver asks these
	// servers, not the host's, for names outside the network (Docker's
	// embedded resolver does the same).
	DNS     []netip.Addr `json:"dns,omitempty"`
	Created time.Time    `json:"created"`
	// Creator is the process that made the endpoint (its pid and start
	// time): while it lives the endpoint's container may still be on its
	// way; once it is gone, an endpoint without a container is one whose
	// creation was cut short (a killed API service or CLI), and goes.
	Creator Process `json:"creator,omitzero"`
	// Volatile: the container is removed at exit, and the endpoint is
	// kept in the volatile file (see the package's doc).
	Volatile bool `json:"volatile,omitempty"`
}

// Process names a process across pid reuse: its pid and its start time
// (clock ticks after boot, /proc/PID/stat's 22nd field).
type Process struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// gone reports whether p is known and has ended.
func (p Process) gone() bool {
	if p.Pid <= 0 {
		return false
	}
	start, ok := processStart(p.Pid)
	return !ok || start != p.Start
}

// staleAfter is how old an endpoint must be before Store.Exists may drop
// it while its creator may still live: a container's endpoints are made a
// moment before its record.
const staleAfter = 10 * time.Minute

// Subnet4 is the network's IPv4 subnet.
func (n Network) Subnet4() (Subnet, bool) {
	for _, s := range n.Subnets {
		if s.Subnet.Addr().Is4() {
			return s, true
		}
	}
	return Subnet{}, false
}

// Subnet6 is the network's IPv6 subnet, when it has one.
func (n Network) Subnet6() (Subnet, bool) {
	for _, s := range n.Subnets {
		if s.Subnet.Addr().Is6() {
			return s, true
		}
	}
	return Subnet{}, false
}

// Names are what a container on the network is found by, Docker's
// DNSNames: its name, its short ID, its aliases and its hostname.
func (e Endpoint) Names() []string {
	out := []string{e.Name}
	if len(e.ContainerID) >= 12 {
		out = append(out, e.ContainerID[:12])
	}
	// Once each, as Docker's DNSNames: compose gives a container its
	// own name as an alias too.
	for _, a := range append(slices.Clone(e.Aliases), e.Hostname) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// validName is Docker's rule for network names.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// self is this process, as an endpoint's creator.
func self() Process {
	start, _ := processStart(os.Getpid())
	return Process{Pid: os.Getpid(), Start: start}
}

// Store is the networks of one graph root.
type Store struct {
	dir string
	// Exists, when set, says whether a container still exists: endpoints
	// of containers removed behind lodger's back are dropped.
	Exists func(containerID string) bool
	// Teardown, when set, is called by Remove and Prune to take down a
	// network's kernel side (namespace, gateway process) once its
	// record is gone.
	Teardown func(Network) error
	// Created, when set, learns of each network Create made.
	Created func(Network)
	// Running, when set, says whether a container runs: Get marks the
	// network's running containers for Inspect.
	Running func(containerID string) bool
}

// New returns the store of graphRoot. Nothing is created until a network
// is.
func New(graphRoot string) *Store {
	return &Store{dir: filepath.Join(graphRoot, "networks")}
}

// Dir is where the records live.
func (s *Store) Dir() string { return s.dir }

// RecordPath is the record file of network name.
func (s *Store) RecordPath(name string) string { return filepath.Join(s.dir, name+".json") }

// CreateOptions is `network create`.
type CreateOptions struct {
	Name     string
	Driver   string // "" or bridge
	Subnets  []SubnetOptions
	Internal bool
	IPv6     bool
	// Attachable is recorded only (see Network.Attachable).
	Attachable bool
	Labels     map[string]string
	// Options are the driver's: mtu (or com.docker.network.driver.mtu).
	Options map[string]string
}

// SubnetOptions is one --subnet with its --gateway and --ip-range; a
// zero Subnet with IPv6 picks one from the pool.
type SubnetOptions struct {
	Subnet  netip.Prefix
	Gateway netip.Addr
	IPRange netip.Prefix
	// AuxAddresses are --aux-address NAME=IP of this subnet.
	AuxAddresses map[string]netip.Addr
}

// The pools subnets are picked from when none is given: as podman's
// (10.89.N.0/24), clear of the default network's 10.0.2.0/24, and for
// IPv6 below the default network's lodger prefix.
var (
	pool4 = netip.MustParsePrefix("10.89.0.0/16")
	pool6 = netip.MustParsePrefix("fd4c:6f64:6765::/48")
	// reserved are subnets no network may take: the default network's.
	reserved = []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24"), netip.MustParsePrefix("fd4c:6f64:6765::/64")}
)

// HostRoutes lists the host's routed IPv4 subnets, which a picked subnet
// avoids: a container could not reach a host network that its own subnet
// hides. Tests replace it.
var HostRoutes = hostRoutes

// hostRoutes reads /proc/net/route: every route but the default.
func hostRoutes() []netip.Prefix {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue
		}
		// The kernel prints the addresses' bytes as host-order numbers.
		var d, m [4]byte
		binary.NativeEndian.PutUint32(d[:], uint32(dst))
		binary.NativeEndian.PutUint32(m[:], uint32(mask))
		bits := 0
		for _, b := range m {
			bits += stdbits.OnesCount8(b)
		}
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(d), bits).Masked())
	}
	return out
}

// Create makes a network and returns its record.
func (s *Store) Create(o CreateOptions) (Network, error) {
	if !validName().MatchString(o.Name) {
		return Network{}, kindErr(ErrInvalid, "network name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", o.Name)
	}
	switch o.Name {
	case Bridge, Host, None, "netstack", "default", "private", "container":
		return Network{}, kindErr(ErrConflict, "network name %q: it names a predefined network mode", o.Name)
	}
	if o.Driver != "" && o.Driver != DriverBridge {
		return Network{}, kindErr(ErrInvalid, "driver %q: lodger has only the bridge driver", o.Driver)
	}
	mtu, err := parseOptions(o.Options)
	if err != nil {
		return Network{}, err
	}
	unlock, err := s.lock()
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return Network{}, err
	}
	for _, n := range nets {
		if n.Name == o.Name {
			return Network{}, kindErr(ErrConflict, "network with name %s already exists", o.Name)
		}
	}
	var taken []netip.Prefix
	for _, n := range nets {
		for _, sn := range n.Subnets {
			taken = append(taken, sn.Subnet)
		}
	}
	subnets, err := planSubnets(o, taken)
	if err != nil {
		return Network{}, err
	}
	n := Network{
		ID:         randomID(),
		Name:       o.Name,
		Driver:     DriverBridge,
		Created:    time.Now().UTC(),
		Internal:   o.Internal,
		Attachable: o.Attachable,
		EnableIPv6: o.IPv6 || slices.ContainsFunc(subnets, func(sn Subnet) bool { return sn.Subnet.Addr().Is6() }),
		Labels:     o.Labels,
		Options:    o.Options,
		Subnets:    subnets,
		MTU:        mtu,
	}
	if err := s.write(n, true); err != nil {
		return Network{}, fmt.Errorf("create network %s: %w", o.Name, err)
	}
	if s.Created != nil {
		s.Created(n)
	}
	return n, nil
}

func parseOptions(opts map[string]string) (int, error) {
	mtu := DefaultMTU
	for k, v := range opts {
		switch k {
		case "mtu", "com.docker.network.driver.mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1280 || n > 65520 {
				return 0, kindErr(ErrInvalid, "option %s=%s: the MTU is a number from 1280 to 65520", k, v)
			}
			mtu = n
		case "com.docker.network.bridge.name":
			// The bridge lives in the network's own namespace, always as
			// br0: no host interface takes the name. Accepted, so that
			// compose files that set it work.
		case "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade":
			// What lodger always does (neighbours reach each other, the
			// way out is NAT'd): true is accepted, false is not built.
			on, err := strconv.ParseBool(v)
			if err != nil {
				return 0, kindErr(ErrInvalid, "option %s=%s: want true or false", k, v)
			}
			if !on {
				what := "containers on a lodger network always reach each other"
				if strings.HasSuffix(k, "masquerade") {
					what = "a lodger network's way out is always NAT; --internal gives none"
				}
				return 0, kindErr(ErrInvalid, "option %s=false: not supported (%s)", k, what)
			}
		case "com.docker.network.container_iface_prefix":
			if v != "eth" {
				return 0, kindErr(ErrInvalid, "option %s=%s: not supported (a container's interfaces are eth0, eth1...)", k, v)
			}
		default:
			return 0, kindErr(ErrInvalid, "option %q: not supported; the bridge driver takes mtu=N (also com.docker.network.driver.mtu), and accepts com.docker.network.bridge.name (ignored), enable_icc=true, enable_ip_masquerade=true", k)
		}
	}
	return mtu, nil
}

// planSubnets checks the asked subnets, or picks free ones, against the
// subnets of other networks (taken).
func planSubnets(o CreateOptions, taken []netip.Prefix) ([]Subnet, error) {
	var out []Subnet
	has4, has6 := false, false
	for _, so := range o.Subnets {
		if !so.Subnet.IsValid() {
			if so.Gateway.IsValid() || so.IPRange.IsValid() || len(so.AuxAddresses) > 0 {
				return nil, kindErr(ErrInvalid, "--gateway, --ip-range and --aux-address need a --subnet")
			}
			continue
		}
		sn, err := checkSubnet(so, taken)
		if err != nil {
			return nil, err
		}
		if sn.Subnet.Addr().Is4() {
			if has4 {
				return nil, kindErr(ErrInvalid, "subnet %s: a network has one IPv4 subnet", sn.Subnet)
			}
			has4 = true
		} else {
			if has6 {
				return nil, kindErr(ErrInvalid, "subnet %s: a network has one IPv6 subnet", sn.Subnet)
			}
			has6 = true
		}
		taken = append(taken, sn.Subnet)
		out = append(out, sn)
	}
	var routes []netip.Prefix
	if HostRoutes != nil {
		routes = HostRoutes()
	}
	if !has4 {
		sn, err := pick(pool4, 24, append(slices.Clone(taken), routes...))
		if err != nil {
			return nil, err
		}
		taken = append(taken, sn.Subnet)
		out = append([]Subnet{sn}, out...)
	}
	if o.IPv6 && !has6 {
		sn, err := pick(pool6, 64, append(slices.Clone(taken), routes...))
		if err != nil {
			return nil, err
		}
		out = append(out, sn)
	}
	return out, nil
}

func checkSubnet(so SubnetOptions, taken []netip.Prefix) (Subnet, error) {
	p := so.Subnet
	if p.Masked() != p {
		return Subnet{}, kindErr(ErrInvalid, "subnet %s: host bits are set; use %s", p, p.Masked())
	}
	maxBits := 30
	if p.Addr().Is6() {
		maxBits = 126
	}
	if p.Bits() > maxBits {
		return Subnet{}, kindErr(ErrInvalid, "subnet %s: too small, it leaves no address for a container besides the gateway (use /%d or larger)", p, maxBits)
	}
	if p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && p.Bits() < 48 {
		return Subnet{}, kindErr(ErrInvalid, "subnet %s: too large", p)
	}
	for _, t := range append(slices.Clone(reserved), taken...) {
		if t.Overlaps(p) {
			return Subnet{}, kindErr(ErrConflict, "subnet %s overlaps %s of another network: pick another --subnet", p, t)
		}
	}
	sn := Subnet{Subnet: p, Gateway: so.Gateway, IPRange: so.IPRange}
	if sn.IPRange.IsValid() {
		if sn.IPRange.Masked() != sn.IPRange || !p.Contains(sn.IPRange.Addr()) || sn.IPRange.Bits() < p.Bits() {
			return Subnet{}, kindErr(ErrInvalid, "--ip-range %s: not a range inside subnet %s", sn.IPRange, p)
		}
	}
	if sn.Gateway.IsValid() {
		if !p.Contains(sn.Gateway) || sn.Gateway == p.Addr() || isBroadcast(p, sn.Gateway) {
			return Subnet{}, kindErr(ErrInvalid, "--gateway %s: not a host address of subnet %s", sn.Gateway, p)
		}
	} else {
		sn.Gateway = p.Addr().Next()
	}
	for name, a := range so.AuxAddresses {
		if !p.Contains(a) {
			return Subnet{}, kindErr(ErrInvalid, "--aux-address %s=%s: not an address of subnet %s", name, a, p)
		}
		if sn.AuxAddresses == nil {
			sn.AuxAddresses = map[string]netip.Addr{}
		}
		sn.AuxAddresses[name] = a
	}
	return sn, nil
}

// pick returns the first /bits subnet of pool that overlaps nothing in
// taken.
func pick(pool netip.Prefix, bits int, taken []netip.Prefix) (Subnet, error) {
	taken = append(taken, reserved...)
	a := pool.Addr()
	for pool.Contains(a) {
		p := netip.PrefixFrom(a, bits)
		if !slices.ContainsFunc(taken, p.Overlaps) && !(a == pool.Addr() && bits < 64) {
			// 10.89.0.0/24 is left out as podman's default network.
			return Subnet{Subnet: p, Gateway: a.Next()}, nil
		}
		a = nextPrefix(p)
		if !a.IsValid() {
			break
		}
	}
	return Subnet{}, kindErr(ErrConflict, "no free subnet left in %s: give one with --subnet", pool)
}

// nextPrefix is the first address after p, invalid past the end of the
// address space.
func nextPrefix(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bit := p.Bits() - 1 // the prefix's last bit
	carry := uint(1) << (7 - bit%8)
	for i := bit / 8; i >= 0 && carry > 0; i-- {
		sum := uint(b[i]) + carry
		b[i] = byte(sum)
		carry = sum >> 8
	}
	if carry > 0 {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	if !p.Addr().Is4() {
		return false
	}
	return lastAddr(p) == a
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Get returns the network named nameOrID (its name, ID or a unique ID
// prefix), predefined ones included.
func (s *Store) Get(nameOrID string) (Network, error) {
	if n, ok := predefined(nameOrID); ok {
		return n, nil
	}
	nets, err := s.list()
	if err != nil {
		return Network{}, err
	}
	n, err := find(nets, nameOrID)
	if err == nil && s.Running != nil {
		n.Running = map[string]bool{}
		for id := range n.Endpoints {
			if s.Running(id) {
				n.Running[id] = true
			}
		}
	}
	return n, err
}

func find(nets []Network, nameOrID string) (Network, error) {
	for _, n := range nets {
		if n.Name == nameOrID || n.ID == nameOrID {
			return n, nil
		}
	}
	var found []Network
	if nameOrID != "" {
		for _, n := range nets {
			if strings.HasPrefix(n.ID, nameOrID) {
				found = append(found, n)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Network{}, kindErr(ErrNotFound, "no such network: %s", nameOrID)
	}
	return Network{}, kindErr(ErrConflict, "network %s: the ID prefix matches %d networks", nameOrID, len(found))
}

// Inspect is Get; the name the Engine API uses.
func (s *Store) Inspect(nameOrID string) (Network, error) { return s.Get(nameOrID) }

// ListOptions filters List as `network ls --filter` does.
type ListOptions struct {
	// Filters, with the Docker daemon's semantics: name and id match
	// all or part of the name or ID (a regular expression, as Docker's
	// daemon reads them), driver and scope exactly, type is builtin or
	// custom, dangling true or false (1 or 0); several values of one key
	// are alternatives, except label (KEY or KEY=VALUE), whose values
	// must all hold, as Docker's; keys must all match.
	Filters map[string][]string
}

// List returns the predefined networks and every user network, by name.
func (s *Store) List(o ListOptions) ([]Network, error) {
	for k, vs := range o.Filters {
		switch k {
		case "name", "id", "driver", "label", "scope":
		case "type":
			for _, v := range vs {
				if v != "builtin" && v != "custom" {
					return nil, kindErr(ErrInvalid, "filter type=%s: use type=builtin or type=custom", v)
				}
			}
		case "dangling":
			for _, v := range vs {
				if _, ok := danglingValue(v); !ok {
					return nil, kindErr(ErrInvalid, "filter dangling=%s: use dangling=true or dangling=false", v)
				}
			}
		default:
			return nil, kindErr(ErrInvalid, "filter %q: use name, id, driver, label, type, scope or dangling", k)
		}
	}
	nets, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{Bridge, Host, None} {
		p, _ := predefined(name)
		nets = append(nets, p)
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	var out []Network
	for _, n := range nets {
		if matches(n, o.Filters) {
			out = append(out, n)
		}
	}
	return out, nil
}

func matches(n Network, f map[string][]string) bool {
	for k, vs := range f {
		if k == "label" {
			// Every label asked for, as the daemon's (Docker's network
			// ls: --filter label=a --filter label=b lists networks with
			// both; compose relies on it to find a project's network).
			for _, v := range vs {
				key, val, hasVal := strings.Cut(v, "=")
				got, has := n.Labels[key]
				if !has || hasVal && got != val {
					return false
				}
			}
			continue
		}
		ok := false
		for _, v := range vs {
			switch k {
			case "name":
				ok = ok || partMatch(v, n.Name)
			case "id":
				ok = ok || partMatch(v, n.ID)
			case "driver":
				ok = ok || n.Driver == v
			case "scope":
				ok = ok || v == "local"
			case "type":
				ok = ok || (v == "builtin") == n.Predefined
			case "dangling":
				on, _ := danglingValue(v)
				ok = ok || on == (len(n.Endpoints) == 0 && !n.Predefined)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// danglingValue reads a dangling filter's value as Docker's daemon
// does: true or 1, false or 0.
func danglingValue(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// partMatch is the daemon's match of a name or ID filter: the value
// itself, or a regular expression found in it (so "web" is any name
// with web in it, "^web$" that name alone). A value that is no regular
// expression matches only itself.
func partMatch(pattern, s string) bool {
	if pattern == s {
		return true
	}
	re, err := regexp.Compile(pattern)
	return err == nil && re.MatchString(s)
}

// predefined returns the network of a predefined name, as Docker lists
// it.
func predefined(name string) (Network, bool) {
	var n Network
	switch name {
	case Bridge, "netstack":
		n = Network{Name: Bridge, Driver: DriverBridge, Subnets: []Subnet{{Subnet: netip.MustParsePrefix("10.0.2.0/24"), Gateway: netip.MustParseAddr("10.0.2.2")}}, MTU: DefaultMTU}
	case Host:
		n = Network{Name: Host, Driver: DriverHost}
	case None:
		n = Network{Name: None, Driver: DriverNull}
	default:
		return Network{}, false
	}
	// Stable IDs, so that a client that keeps one finds it again.
	sum := sha256.Sum256([]byte("lodger predefined network " + n.Name))
	n.ID = hex.EncodeToString(sum[:])
	n.Predefined = true
	return n, true
}

// IsPredefined says whether name is bridge, host or none.
func IsPredefined(name string) bool {
	_, ok := predefined(name)
	return ok && name != "netstack"
}

// list reads every record, dropping endpoints of containers that are
// gone.
func (s *Store) list() ([]Network, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validName().MatchString(name) || e.IsDir() {
			continue
		}
		n, err := s.read(name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (s *Store) read(name string) (Network, error) {
	n, err := ReadRecord(s.RecordPath(name))
	if err != nil {
		return Network{}, err
	}
	if s.Exists != nil {
		for id, e := range n.Endpoints {
			if (time.Since(e.Created) > staleAfter || e.Creator.gone()) && !s.Exists(id) {
				delete(n.Endpoints, id)
			}
		}
	}
	return n, nil
}

// ReadRecord reads a network's record file, with the endpoints of its
// volatile file (VolatilePath).
func ReadRecord(path string) (Network, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Network{}, kindErr(ErrNotFound, "no such network: %s", strings.TrimSuffix(filepath.Base(path), ".json"))
	}
	if err != nil {
		return Network{}, fmt.Errorf("read network record: %w", err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return Network{}, fmt.Errorf("read network record %s: %w", path, err)
	}
	var v volatileRecord
	if b, err := os.ReadFile(VolatilePath(path)); err == nil && json.Unmarshal(b, &v) == nil {
		for id, e := range v.Endpoints {
			if _, ok := n.Endpoints[id]; ok || !e.Volatile {
				continue
			}
			if n.Endpoints == nil {
				n.Endpoints = map[string]Endpoint{}
			}
			n.Endpoints[id] = e
		}
	}
	return n, nil
}

// VolatilePath is the file beside record path that holds the network's
// volatile endpoints.
func VolatilePath(path string) string {
	return filepath.Join(filepath.Dir(path), volatileDir, filepath.Base(path))
}

const volatileDir = "volatile"

// volatileRecord is a volatile file's content.
type volatileRecord struct {
	Endpoints map[string]Endpoint `json:"endpoints"`
}

// write replaces the records of n atomically: its volatile endpoints in
// the volatile file, without an fsync, and, when persist (something
// else changed), the rest in the record, with one.
func (s *Store) write(n Network, persist bool) error {
	rec, vol := n, volatileRecord{Endpoints: map[string]Endpoint{}}
	rec.Endpoints = nil
	for id, e := range n.Endpoints {
		if e.Volatile {
			vol.Endpoints[id] = e
			continue
		}
		if rec.Endpoints == nil {
			rec.Endpoints = map[string]Endpoint{}
		}
		rec.Endpoints[id] = e
	}
	vpath := VolatilePath(s.RecordPath(n.Name))
	if len(vol.Endpoints) == 0 {
		if err := os.Remove(vpath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(vpath), 0o700); err != nil {
			return err
		}
		if err := replaceFile(vpath, vol, false); err != nil {
			return err
		}
	}
	if !persist {
		return nil
	}
	return replaceFile(s.RecordPath(n.Name), rec, true)
}

// replaceFile writes v as JSON to path atomically (a temporary file
// beside it, renamed), after an fsync when sync.
func replaceFile(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".network-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Remove deletes a network. A network with containers on it is refused
// with ErrInUse naming them; force makes a missing network no error, as
// Docker's -f.
func (s *Store) Remove(nameOrID string, force bool) error {
	if IsPredefined(nameOrID) {
		return kindErr(ErrInvalid, "%s is a predefined network and cannot be removed", nameOrID)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return err
	}
	n, err := find(nets, nameOrID)
	if err != nil {
		if force && errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if len(n.Endpoints) > 0 {
		var names []string
		for _, e := range n.Endpoints {
			names = append(names, e.Name)
		}
		sort.Strings(names)
		return kindErr(ErrInUse, "network %s is in use by container %s: remove them or disconnect them first", n.Name, strings.Join(names, ", "))
	}
	return s.remove(n)
}

func (s *Store) remove(n Network) error {
	if err := os.Remove(s.RecordPath(n.Name)); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := os.Remove(VolatilePath(s.RecordPath(n.Name))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if s.Teardown != nil {
		if err := s.Teardown(n); err != nil {
			return fmt.Errorf("remove network %s: %w", n.Name, err)
		}
	}
	return nil
}

// Prune removes every user network no container is on that f selects
// (its labels and creation time) and returns their names.
func (s *Store) Prune(f prunefilter.Filter) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return nil, err
	}
	var out []string
	var errs []error
	for _, n := range nets {
		if len(n.Endpoints) > 0 || n.Predefined || !f.Match(n.Created, n.Labels) {
			continue
		}
		if err := s.remove(n); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, n.Name)
	}
	return out, errors.Join(errs...)
}

// ConnectOptions is one container joining a network.
type ConnectOptions struct {
	ContainerID string
	Name        string // the container's name
	Aliases     []string
	// IPv4 and IPv6 are --ip and --ip6; zero picks a free address.
	IPv4 netip.Addr
	IPv6 netip.Addr
	// DNS is the container's --dns (see Endpoint).
	DNS []netip.Addr
	// MAC is --mac-address; nil derives one from the endpoint's ID.
	MAC net.HardwareAddr
	// Hostname is the container's --hostname (see Endpoint).
	Hostname string
	// Volatile: the container is removed at exit (see Endpoint).
	Volatile bool
}

// Connect gives a container an endpoint on the network: an address of
// each of its subnets and a MAC. A container already connected is
// ErrConflict; an address outside the subnet is ErrInvalid, one in use
// ErrConflict.
func (s *Store) Connect(nameOrID string, o ConnectOptions) (Network, Endpoint, error) {
	if IsPredefined(nameOrID) || nameOrID == "netstack" {
		return Network{}, Endpoint{}, kindErr(ErrInvalid, "network %s: a container joins the predefined networks only when it is created (--network)", nameOrID)
	}
	for _, a := range o.Aliases {
		if !validName().MatchString(a) {
			return Network{}, Endpoint{}, kindErr(ErrInvalid, "alias %q: use letters, digits, '_', '.' and '-'", a)
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	n, err := find(nets, nameOrID)
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	if _, ok := n.Endpoints[o.ContainerID]; ok {
		return Network{}, Endpoint{}, kindErr(ErrConflict, "container %s is already connected to network %s", o.Name, n.Name)
	}
	ep := Endpoint{ID: randomID(), ContainerID: o.ContainerID, Name: o.Name, Aliases: o.Aliases, Hostname: o.Hostname, DNS: o.DNS, Created: time.Now().UTC(), Creator: self(), Volatile: o.Volatile}
	if sn, ok := n.Subnet4(); ok {
		if ep.IPv4, err = allocate(n, sn, o.IPv4); err != nil {
			return Network{}, Endpoint{}, err
		}
		if o.IPv4.IsValid() {
			ep.Static = append(ep.Static, o.IPv4)
		}
	} else if o.IPv4.IsValid() {
		return Network{}, Endpoint{}, kindErr(ErrInvalid, "--ip %s: network %s has no IPv4 subnet", o.IPv4, n.Name)
	}
	if sn, ok := n.Subnet6(); ok {
		if ep.IPv6, err = allocate(n, sn, o.IPv6); err != nil {
			return Network{}, Endpoint{}, err
		}
		if o.IPv6.IsValid() {
			ep.Static = append(ep.Static, o.IPv6)
		}
	} else if o.IPv6.IsValid() {
		return Network{}, Endpoint{}, kindErr(ErrInvalid, "--ip6 %s: network %s has no IPv6 subnet", o.IPv6, n.Name)
	}
	ep.MAC = macFor(ep)
	if o.MAC != nil {
		if len(o.MAC) != 6 || o.MAC[0]&1 != 0 {
			return Network{}, Endpoint{}, kindErr(ErrInvalid, "MAC address %s: want a unicast Ethernet address, such as 02:42:0a:59:00:02", o.MAC)
		}
		for _, e := range n.Endpoints {
			if strings.EqualFold(e.MAC, o.MAC.String()) {
				return Network{}, Endpoint{}, kindErr(ErrConflict, "MAC address %s: already in use on network %s by container %s", o.MAC, n.Name, e.Name)
			}
		}
		ep.MAC = o.MAC.String()
	}
	if n.Endpoints == nil {
		n.Endpoints = map[string]Endpoint{}
	}
	n.Endpoints[o.ContainerID] = ep
	if err := s.write(n, !ep.Volatile); err != nil {
		return Network{}, Endpoint{}, fmt.Errorf("connect to network %s: %w", n.Name, err)
	}
	return n, ep, nil
}

// allocate picks want, checked, or the lowest free address of sn.
func allocate(n Network, sn Subnet, want netip.Addr) (netip.Addr, error) {
	used := map[netip.Addr]bool{sn.Gateway: true}
	aux := map[netip.Addr]string{}
	for name, a := range sn.AuxAddresses {
		used[a], aux[a] = true, name
	}
	for _, e := range n.Endpoints {
		used[e.IPv4] = true
		used[e.IPv6] = true
	}
	if want.IsValid() {
		want = want.Unmap()
		switch {
		case !sn.Subnet.Contains(want) || want == sn.Subnet.Addr() || isBroadcast(sn.Subnet, want):
			return netip.Addr{}, kindErr(ErrInvalid, "address %s: not a host address of network %s's subnet %s", want, n.Name, sn.Subnet)
		case want == sn.Gateway:
			return netip.Addr{}, kindErr(ErrConflict, "address %s: it is network %s's gateway", want, n.Name)
		case aux[want] != "":
			return netip.Addr{}, kindErr(ErrConflict, "address %s: it is network %s's auxiliary address %s", want, n.Name, aux[want])
		case used[want]:
			return netip.Addr{}, kindErr(ErrConflict, "address %s: already in use on network %s", want, n.Name)
		}
		return want, nil
	}
	r := sn.Subnet
	if sn.IPRange.IsValid() {
		r = sn.IPRange
	}
	for a := r.Addr(); r.Contains(a); a = a.Next() {
		if a == sn.Subnet.Addr() || used[a] || isBroadcast(sn.Subnet, a) {
			continue
		}
		return a, nil
	}
	return netip.Addr{}, kindErr(ErrConflict, "network %s: no free address left in %s", n.Name, r)
}

// macFor is the endpoint's MAC: a locally administered address made from
// its endpoint ID, so that it stays the same across restarts.
func macFor(ep Endpoint) string {
	b, _ := hex.DecodeString(ep.ID[:12])
	b[0] = b[0]&0xfe | 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

// Disconnect releases the container's endpoint; a container not on the
// network is ErrNotFound unless force.
func (s *Store) Disconnect(nameOrID, containerID string, force bool) (Network, Endpoint, error) {
	unlock, err := s.lock()
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	n, err := find(nets, nameOrID)
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	ep, ok := n.Endpoints[containerID]
	if !ok {
		if force {
			return n, Endpoint{}, nil
		}
		return Network{}, Endpoint{}, kindErr(ErrNotFound, "container %s is not connected to network %s", shortID(containerID), n.Name)
	}
	delete(n.Endpoints, containerID)
	if err := s.write(n, !ep.Volatile); err != nil {
		return Network{}, Endpoint{}, fmt.Errorf("disconnect from network %s: %w", n.Name, err)
	}
	return n, ep, nil
}

// Release drops every endpoint of a container (it was removed).
func (s *Store) Release(containerID string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets {
		ep, ok := n.Endpoints[containerID]
		if !ok {
			continue
		}
		delete(n.Endpoints, containerID)
		if err := s.write(n, !ep.Volatile); err != nil {
			errs = append(errs, fmt.Errorf("release address on network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Rename changes a container's name in its endpoints, so that the new
// name resolves.
func (s *Store) Rename(containerID, name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := s.list()
	if err != nil {
		return err
	}
	for _, n := range nets {
		ep, ok := n.Endpoints[containerID]
		if !ok {
			continue
		}
		ep.Name = name
		n.Endpoints[containerID] = ep
		if err := s.write(n, !ep.Volatile); err != nil {
			return err
		}
	}
	return nil
}

// shortID is an ID as Docker's CLI shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
