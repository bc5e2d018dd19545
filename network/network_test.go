package network

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/internal/prunefilter"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	HostRoutes = nil
	return New(t.TempDir())
}

func mustCreate(t *testing.T, s *Store, o CreateOptions) Network {
	t.Helper()
	n, err := s.Create(o)
	if err != nil {
		t.Fatalf("Create(%+v): %v", o, err)
	}
	return n
}

func TestCreatePicksDistinctSubnets(t *testing.T) {
	s := newStore(t)
	a := mustCreate(t, s, CreateOptions{Name: "a"})
	b := mustCreate(t, s, CreateOptions{Name: "b", IPv6: true})
	var got []string
	for _, n := range []Network{a, b} {
		for _, sn := range n.Subnets {
			got = append(got, sn.Subnet.String()+" gw "+sn.Gateway.String())
		}
	}
	want := []string{"10.89.1.0/24 gw 10.89.1.1", "10.89.2.0/24 gw 10.89.2.1", "fd4c:6f64:6765:1::/64 gw fd4c:6f64:6765:1::1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subnets (-want +got):\n%s", diff)
	}
	if len(a.ID) != 64 || a.ID == b.ID {
		t.Errorf("IDs %q and %q: want two distinct 64-hex IDs", a.ID, b.ID)
	}
	if a.MTU != DefaultMTU || a.Driver != DriverBridge {
		t.Errorf("MTU %d driver %q", a.MTU, a.Driver)
	}
}

func TestCreateAvoidsHostRoutes(t *testing.T) {
	s := newStore(t)
	HostRoutes = func() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("10.89.1.0/24")} }
	defer func() { HostRoutes = nil }()
	n := mustCreate(t, s, CreateOptions{Name: "a"})
	if got := n.Subnets[0].Subnet.String(); got != "10.89.2.0/24" {
		t.Errorf("subnet %s, want 10.89.2.0/24 (10.89.1.0/24 is routed on the host)", got)
	}
}

func TestCreateBadInput(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "taken", Subnets: []SubnetOptions{{Subnet: netip.MustParsePrefix("172.30.0.0/16")}}})
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		o    CreateOptions
		want error
		msg  string
	}{
		{"duplicate name", CreateOptions{Name: "taken"}, ErrConflict, "already exists"},
		{"predefined name", CreateOptions{Name: "bridge"}, ErrConflict, "predefined"},
		{"bad name", CreateOptions{Name: "-x"}, ErrInvalid, "network name"},
		{"overlap", CreateOptions{Name: "o", Subnets: []SubnetOptions{{Subnet: p("172.30.5.0/24")}}}, ErrConflict, "overlaps 172.30.0.0/16"},
		{"default network", CreateOptions{Name: "d", Subnets: []SubnetOptions{{Subnet: p("10.0.0.0/16")}}}, ErrConflict, "overlaps 10.0.2.0/24"},
		{"too small", CreateOptions{Name: "s", Subnets: []SubnetOptions{{Subnet: p("192.168.7.0/31")}}}, ErrInvalid, "too small"},
		{"host bits", CreateOptions{Name: "h", Subnets: []SubnetOptions{{Subnet: p("192.168.7.1/24")}}}, ErrInvalid, "host bits"},
		{"gateway outside", CreateOptions{Name: "g", Subnets: []SubnetOptions{{Subnet: p("192.168.7.0/24"), Gateway: netip.MustParseAddr("192.168.8.1")}}}, ErrInvalid, "--gateway"},
		{"range outside", CreateOptions{Name: "r", Subnets: []SubnetOptions{{Subnet: p("192.168.7.0/24"), IPRange: p("192.168.8.0/25")}}}, ErrInvalid, "--ip-range"},
		{"driver", CreateOptions{Name: "v", Driver: "overlay"}, ErrInvalid, "bridge driver"},
		{"mtu", CreateOptions{Name: "m", Options: map[string]string{"mtu": "100"}}, ErrInvalid, "MTU"},
		{"option", CreateOptions{Name: "m", Options: map[string]string{"foo": "1"}}, ErrInvalid, `option "foo": not supported`},
		{"docker mtu", CreateOptions{Name: "m", Options: map[string]string{"com.docker.network.driver.mtu": "x"}}, ErrInvalid, "MTU"},
		{"icc off", CreateOptions{Name: "m", Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"}}, ErrInvalid, "enable_icc=false: not supported"},
		{"host binding", CreateOptions{Name: "m", Options: map[string]string{"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}}, ErrInvalid, "host_binding_ipv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(tc.o)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Create: %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	if nets, _ := s.List(ListOptions{Filters: map[string][]string{"type": {"custom"}}}); len(nets) != 1 {
		t.Errorf("%d user networks after refused creates, want 1", len(nets))
	}
}

func TestCreateDockerOptions(t *testing.T) {
	s := newStore(t)
	n := mustCreate(t, s, CreateOptions{Name: "d", Options: map[string]string{
		"com.docker.network.driver.mtu": "1500", "com.docker.network.bridge.name": "br-compose",
		"com.docker.network.bridge.enable_icc": "true", "com.docker.network.bridge.enable_ip_masquerade": "true",
	}})
	if n.MTU != 1500 {
		t.Errorf("MTU %d, want 1500 from com.docker.network.driver.mtu", n.MTU)
	}
}

func TestConnectAllocates(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n", Subnets: []SubnetOptions{{Subnet: netip.MustParsePrefix("192.168.50.0/29")}}})
	a := netip.MustParseAddr
	var got []netip.Addr
	for _, id := range []string{"c1", "c2"} {
		_, ep, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat(id, 32), Name: id})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ep.IPv4)
	}
	if diff := cmp.Diff([]netip.Addr{a("192.168.50.2"), a("192.168.50.3")}, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		o    ConnectOptions
		want error
	}{
		{"taken", ConnectOptions{ContainerID: "x1", IPv4: a("192.168.50.2")}, ErrConflict},
		{"gateway", ConnectOptions{ContainerID: "x2", IPv4: a("192.168.50.1")}, ErrConflict},
		{"outside", ConnectOptions{ContainerID: "x3", IPv4: a("192.168.51.2")}, ErrInvalid},
		{"broadcast", ConnectOptions{ContainerID: "x4", IPv4: a("192.168.50.7")}, ErrInvalid},
		{"twice", ConnectOptions{ContainerID: strings.Repeat("c1", 32)}, ErrConflict},
		{"bad alias", ConnectOptions{ContainerID: "x5", Aliases: []string{"a b"}}, ErrInvalid},
		{"ipv6 on v4-only", ConnectOptions{ContainerID: "x6", IPv6: a("fd00::5")}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.Connect("n", tc.o); !errors.Is(err, tc.want) {
				t.Errorf("Connect: %v, want %v", err, tc.want)
			}
		})
	}
	// .4 .5 .6 are left; then the subnet is full.
	for i := range 3 {
		if _, _, err := s.Connect("n", ConnectOptions{ContainerID: "f" + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Connect("n", ConnectOptions{ContainerID: "full"}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "no free address") {
		t.Errorf("Connect on a full subnet: %v", err)
	}
	// A released address is handed out again.
	if _, _, err := s.Disconnect("n", strings.Repeat("c1", 32), false); err != nil {
		t.Fatal(err)
	}
	if _, ep, err := s.Connect("n", ConnectOptions{ContainerID: "again"}); err != nil || ep.IPv4 != a("192.168.50.2") {
		t.Errorf("after disconnect: %v %v, want 192.168.50.2", ep.IPv4, err)
	}
}

func TestIPRange(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n", Subnets: []SubnetOptions{{Subnet: netip.MustParsePrefix("10.20.0.0/16"), IPRange: netip.MustParsePrefix("10.20.5.128/25")}}})
	_, ep, err := s.Connect("n", ConnectOptions{ContainerID: "c"})
	if err != nil || ep.IPv4.String() != "10.20.5.128" {
		t.Errorf("Connect: %v %v, want 10.20.5.128", ep.IPv4, err)
	}
}

func TestParallelConnectDistinct(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := strings.Repeat(string(rune('a'+i%26)), 2) + string(rune('0'+i/26))
			_, ep, err := s.Connect("n", ConnectOptions{ContainerID: id, Name: id})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, ok := seen[ep.IPv4]; ok {
				t.Errorf("%s and %s both got %s", id, other, ep.IPv4)
			}
			seen[ep.IPv4] = id
		}()
	}
	wg.Wait()
	n, _ := s.Get("n")
	if len(n.Endpoints) != 50 || len(seen) != 50 {
		t.Errorf("%d endpoints, %d addresses; want 50", len(n.Endpoints), len(seen))
	}
}

func TestRemoveInUseAndPrune(t *testing.T) {
	s := newStore(t)
	n := mustCreate(t, s, CreateOptions{Name: "used"})
	mustCreate(t, s, CreateOptions{Name: "idle", Labels: map[string]string{"k": "v"}})
	if _, _, err := s.Connect("used", ConnectOptions{ContainerID: "c1", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	var torn []string
	s.Teardown = func(n Network) error { torn = append(torn, n.Name); return nil }
	err := s.Remove("used", false)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "web") {
		t.Errorf("Remove of a network in use: %v, want ErrInUse naming web", err)
	}
	if err := s.Remove("nosuch", true); err != nil {
		t.Errorf("Remove -f of a missing network: %v", err)
	}
	if err := s.Remove("nosuch", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a missing network: %v", err)
	}
	if err := s.Remove(Bridge, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("Remove bridge: %v", err)
	}
	pruned, err := s.Prune(prunefilter.Filter{})
	if err != nil || !cmp.Equal(pruned, []string{"idle"}) || !cmp.Equal(torn, []string{"idle"}) {
		t.Errorf("Prune: %v %v (torn down %v), want [idle]", pruned, err, torn)
	}
	// A container being created has its endpoint before its record.
	s.Exists = func(id string) bool { return false }
	if err := s.Remove("used", false); !errors.Is(err, ErrInUse) {
		t.Errorf("Remove while the container is being created: %v", err)
	}
	// Once the container is gone its endpoint no longer counts.
	nn, _ := s.Get("used")
	for id, e := range nn.Endpoints {
		e.Created = e.Created.Add(-time.Hour)
		nn.Endpoints[id] = e
	}
	if err := s.write(nn, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(n.ID[:6], false); err != nil {
		t.Errorf("Remove by ID prefix after the container went: %v", err)
	}
}

func TestListFiltersAndPredefined(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "front", Labels: map[string]string{"tier": "web"}})
	mustCreate(t, s, CreateOptions{Name: "back"})
	side := mustCreate(t, s, CreateOptions{Name: "side", Labels: map[string]string{"tier": "db", "zone": "a"}})
	names := func(f map[string][]string) []string {
		nets, err := s.List(ListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nets {
			out = append(out, n.Name)
		}
		return out
	}
	for _, tc := range []struct {
		f    map[string][]string
		want []string
	}{
		{nil, []string{"back", "bridge", "front", "host", "none", "side"}},
		{map[string][]string{"label": {"tier=web"}}, []string{"front"}},
		{map[string][]string{"type": {"builtin"}}, []string{"bridge", "host", "none"}},
		{map[string][]string{"name": {"ac", "ro"}}, []string{"back", "front"}},
		{map[string][]string{"id": {side.ID[20:30]}}, []string{"side"}},
		{map[string][]string{"driver": {"bridge"}, "type": {"custom"}}, []string{"back", "front", "side"}},
		// Docker's daemon: name and id are regular expressions found in
		// the name or ID, labels must all hold.
		{map[string][]string{"name": {"^b"}}, []string{"back", "bridge"}},
		{map[string][]string{"name": {"ck$"}}, []string{"back"}},
		{map[string][]string{"label": {"tier=web", "zone"}}, nil},
		{map[string][]string{"label": {"tier", "zone"}}, []string{"side"}},
		{map[string][]string{"dangling": {"1"}}, []string{"back", "front", "side"}},
	} {
		if diff := cmp.Diff(tc.want, names(tc.f)); diff != "" {
			t.Errorf("List(%v) (-want +got):\n%s", tc.f, diff)
		}
	}
	for _, f := range []map[string][]string{{"colour": {"x"}}, {"type": {"mine"}}, {"dangling": {"yes"}}} {
		if _, err := s.List(ListOptions{Filters: f}); !errors.Is(err, ErrInvalid) {
			t.Errorf("List(%v): %v, want ErrInvalid", f, err)
		}
	}
	b, err := s.Get("bridge")
	if err != nil || !b.Predefined || b.Inspect().Name != "bridge" || len(b.ID) != 64 {
		t.Errorf("bridge: %+v %v", b, err)
	}
}

func TestInspectSchema(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n", Internal: true, Attachable: true, Options: map[string]string{"mtu": "1500"}})
	_, ep, _ := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat("ab", 32), Name: "web", Aliases: []string{"www"}})
	n, _ := s.Get("n")
	in := n.Inspect()
	if !in.Internal || !in.Attachable || in.Scope != "local" || in.Driver != "bridge" {
		t.Errorf("inspect: %+v", in.Network)
	}
	// Options as given, as Docker shows them; none added.
	if diff := cmp.Diff(map[string]string{"mtu": "1500"}, in.Options); diff != "" {
		t.Errorf("inspect Options (-want +got):\n%s", diff)
	}
	c := in.Containers[strings.Repeat("ab", 32)]
	if c.Name != "web" || c.IPv4Address.String() != ep.IPv4.String()+"/24" || c.MacAddress.String() != ep.MAC {
		t.Errorf("endpoint: %+v, want web at %s/24 with MAC %s", c, ep.IPv4, ep.MAC)
	}
	if ep.MAC[1] != '2' && ep.MAC[1] != '6' && ep.MAC[1] != 'a' && ep.MAC[1] != 'e' {
		t.Errorf("MAC %s is not locally administered unicast", ep.MAC)
	}
}

func TestNextPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.89.1.0/24":        "10.89.2.0",
		"10.89.255.0/24":      "10.90.0.0",
		"fd4c:6f64:6765::/64": "fd4c:6f64:6765:1::",
		"255.255.255.0/24":    "invalid IP",
	} {
		if got := nextPrefix(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("nextPrefix(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestEndpointOfADeadCreator: an endpoint without a container is kept
// while the process that made it may still write the record, and goes at
// once when that process is gone (a service or CLI killed mid-create).
func TestEndpointOfADeadCreator(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "net"})
	if _, _, err := s.Connect("net", ConnectOptions{ContainerID: "c1", Name: "half"}); err != nil {
		t.Fatal(err)
	}
	s.Exists = func(string) bool { return false }
	if err := s.Remove("net", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove while the endpoint's creator (this test) lives: %v; want ErrInUse", err)
	}
	// The same pid started at another time: the creator is gone.
	n, _ := s.Get("net")
	for id, e := range n.Endpoints {
		if e.Creator.Pid != os.Getpid() {
			t.Errorf("endpoint creator %+v; want this process", e.Creator)
		}
		e.Creator.Start++
		n.Endpoints[id] = e
	}
	if err := s.write(n, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("net", false); err != nil {
		t.Errorf("Remove after the endpoint's creator went: %v; want it removed", err)
	}
}

// Disconnecting a container that is not on the network names it, as
// Docker's message does; with force it is no error.
func TestDisconnectNotConnected(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n"})
	id := strings.Repeat("cd", 32)
	_, _, err := s.Disconnect("n", id, false)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "container "+id[:12]+" is not connected to network n") {
		t.Errorf("Disconnect of a container not on n: %v", err)
	}
	if _, _, err := s.Disconnect("n", id, true); err != nil {
		t.Errorf("Disconnect -f of a container not on n: %v", err)
	}
}

// --mac-address: the endpoint takes it; a multicast address or one
// another container has on the network is refused.
func TestConnectMAC(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "n"})
	mac, _ := net.ParseMAC("02:42:0a:59:00:63")
	_, ep, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat("a1", 32), Name: "one", MAC: mac})
	if err != nil || ep.MAC != "02:42:0a:59:00:63" {
		t.Fatalf("Connect with a MAC: %+v %v", ep, err)
	}
	if _, _, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat("b2", 32), Name: "two", MAC: mac}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "one") {
		t.Errorf("a MAC in use: %v, want ErrConflict naming one", err)
	}
	multi, _ := net.ParseMAC("01:00:5e:00:00:01")
	if _, _, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat("c3", 32), Name: "three", MAC: multi}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a multicast MAC: %v, want ErrInvalid", err)
	}
}

// An endpoint's names are Docker's DNSNames: name, short ID, aliases
// and hostname, each once.
func TestEndpointNames(t *testing.T) {
	e := Endpoint{Name: "web", ContainerID: strings.Repeat("ab", 32), Aliases: []string{"www", "web"}, Hostname: "front"}
	if diff := cmp.Diff([]string{"web", "abababababab", "www", "front"}, e.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

// --aux-address: addresses of the subnet no container is given, shown
// in inspect; one outside the subnet is refused, and asking for one
// with --ip names it.
func TestAuxAddresses(t *testing.T) {
	s := newStore(t)
	sn := netip.MustParsePrefix("10.91.0.0/29")
	router := netip.MustParseAddr("10.91.0.2")
	mustCreate(t, s, CreateOptions{Name: "n", Subnets: []SubnetOptions{{Subnet: sn, AuxAddresses: map[string]netip.Addr{"router": router}}}})
	var got []netip.Addr
	for i := range 3 {
		_, ep, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat(string(rune('a'+i)), 64), Name: "c"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ep.IPv4)
	}
	if slices.Contains(got, router) {
		t.Errorf("addresses %v include the auxiliary address %s", got, router)
	}
	_, _, err := s.Connect("n", ConnectOptions{ContainerID: strings.Repeat("f", 64), Name: "d", IPv4: router})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "router") {
		t.Errorf("--ip of the auxiliary address: %v, want ErrConflict naming router", err)
	}
	n, _ := s.Get("n")
	if a := n.Inspect().IPAM.Config[0].AuxAddress["router"]; a != router {
		t.Errorf("inspect AuxiliaryAddresses router = %s, want %s", a, router)
	}
	_, err = s.Create(CreateOptions{Name: "m", Subnets: []SubnetOptions{{Subnet: netip.MustParsePrefix("10.92.0.0/24"), AuxAddresses: map[string]netip.Addr{"x": router}}}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("an auxiliary address outside the subnet: %v, want ErrInvalid", err)
	}
}
