package bridge

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/network"
)

// TestContainerNamesDockerForms: the names a container on two networks
// finds, as Docker's resolver answers them: NAME, NAME.NETWORK on that
// network alone, and NAME.NETWORK for an address (PTR); a network the
// container is not on answers nothing, in either form.
func TestContainerNamesDockerForms(t *testing.T) {
	dir := t.TempDir()
	s := network.New(dir)
	for _, name := range []string{"front", "back", "other"} {
		if _, err := s.Create(network.CreateOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	const me, web, api, far = "aaaa00000000000000000001", "bbbb00000000000000000002", "cccc00000000000000000003", "dddd00000000000000000004"
	connect := func(net, id, name string, aliases ...string) netip.Addr {
		t.Helper()
		_, ep, err := s.Connect(net, network.ConnectOptions{ContainerID: id, Name: name, Aliases: aliases})
		if err != nil {
			t.Fatal(err)
		}
		return ep.IPv4
	}
	connect("front", me, "me")
	connect("back", me, "me")
	webFront := connect("front", web, "web", "www")
	apiBack := connect("back", api, "api")
	connect("other", far, "far")
	if _, err := os.Stat(filepath.Join(s.Dir(), "front.json")); err != nil {
		t.Fatal(err)
	}
	names := ContainerNames(s.Dir(), me, nil)
	for _, tt := range []struct {
		name string
		want []netip.Addr
	}{
		{"web", []netip.Addr{webFront}},
		{"www.front", []netip.Addr{webFront}},
		{"web.front", []netip.Addr{webFront}},
		{"api.back", []netip.Addr{apiBack}},
		{"web.back", nil},
		{"far", nil},
		{"far.other", nil},
	} {
		v4, _, ok := names.Lookup(tt.name, netip.Addr{})
		if ok != (tt.want != nil) || !cmp.Equal(v4, tt.want, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
			t.Errorf("Lookup(%q) = %v %v; want %v", tt.name, v4, ok, tt.want)
		}
	}
	if host, ok := names.Reverse(apiBack); !ok || host != "api.back" {
		t.Errorf("Reverse(%s) = %q %v; want api.back", apiBack, host, ok)
	}
}
