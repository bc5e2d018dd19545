package network

import (
	"encoding/json"
	"os"
	"testing"
)

// TestVolatileEndpoints: the endpoint of a container removed at exit
// lives in the volatile file, not the record; every reader sees both
// kinds, addresses are never handed out twice across them, and the
// volatile file goes with its last endpoint and with the network.
func TestVolatileEndpoints(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "net"})
	record := s.RecordPath("net")
	recordEndpoints := func() map[string]Endpoint {
		t.Helper()
		b, err := os.ReadFile(record)
		if err != nil {
			t.Fatal(err)
		}
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		return n.Endpoints
	}
	before, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}

	_, vol, err := s.Connect("net", ConnectOptions{ContainerID: "rm1", Name: "one", Volatile: true})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(record); string(after) != string(before) {
		t.Errorf("a volatile endpoint rewrote the record:\n%s", after)
	}
	if _, err := os.Stat(VolatilePath(record)); err != nil {
		t.Errorf("no volatile file after a volatile connect: %v", err)
	}
	_, kept, err := s.Connect("net", ConnectOptions{ContainerID: "ctr2", Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if vol.IPv4 == kept.IPv4 || vol.MAC == kept.MAC {
		t.Errorf("volatile %s and kept %s endpoints share an address", vol.IPv4, kept.IPv4)
	}
	if eps := recordEndpoints(); len(eps) != 1 || eps["ctr2"].IPv4 != kept.IPv4 {
		t.Errorf("record's endpoints %+v; want only ctr2's", eps)
	}
	for _, read := range []func() (Network, error){
		func() (Network, error) { return s.Get("net") },
		func() (Network, error) { return ReadRecord(record) }, // as the gateway reads it
	} {
		n, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if n.Endpoints["rm1"].IPv4 != vol.IPv4 || !n.Endpoints["rm1"].Volatile || n.Endpoints["ctr2"].IPv4 != kept.IPv4 {
			t.Errorf("read endpoints %+v; want rm1 (volatile) and ctr2", n.Endpoints)
		}
	}
	if err := s.Remove("net", false); err == nil {
		t.Error("Remove with a volatile endpoint on the network: want in use")
	}
	if err := s.Rename("rm1", "uno"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Get("net"); n.Endpoints["rm1"].Name != "uno" {
		t.Errorf("after rename the volatile endpoint is %+v", n.Endpoints["rm1"])
	}
	if err := s.Release("rm1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(VolatilePath(record)); !os.IsNotExist(err) {
		t.Errorf("the volatile file outlived its last endpoint: %v", err)
	}
	// A volatile file a crash left unreadable counts as empty.
	if _, _, err := s.Connect("net", ConnectOptions{ContainerID: "rm3", Name: "three", Volatile: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(VolatilePath(record), []byte("{\"endp"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.Get("net")
	if err != nil {
		t.Fatalf("Get with a torn volatile file: %v", err)
	}
	if _, ok := n.Endpoints["rm3"]; ok || len(n.Endpoints) != 1 {
		t.Errorf("with a torn volatile file: endpoints %+v; want ctr2's alone", n.Endpoints)
	}
	if _, _, err := s.Disconnect("net", "ctr2", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Connect("net", ConnectOptions{ContainerID: "rm4", Name: "four", Volatile: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("rm4"); err != nil {
		t.Fatal(err)
	}
	// What a crash can leave: a volatile file of containers now gone.
	if err := os.WriteFile(VolatilePath(record), []byte("{\"endp"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("net", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(VolatilePath(record)); !os.IsNotExist(err) {
		t.Errorf("the volatile file outlived its network: %v", err)
	}
}
