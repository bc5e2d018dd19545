package bridge

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNamespaceEnv marks the test binary re-executed in a user and network
// namespace of its own, where it may make links as the namespace's root.
const inNamespaceEnv = "LODGER_BRIDGE_TEST_IN_NS"

// inOwnNetns runs test name again in a new user and network namespace
// (the test user's own uid mapped to root) and fails t with its output
// if it fails. It reports whether t is that child.
func inOwnNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(inNamespaceEnv) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), inNamespaceEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in its own network namespace: %v\n%s", t.Name(), err, out)
	}
	return false
}

// newTestBridge makes the network's bridge in the test's own namespace
// and returns a handle there, closed with t.
func newTestBridge(t *testing.T) (*netlink.Handle, *netlink.Bridge) {
	t.Helper()
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}}
	if err := h.LinkAdd(br); err != nil {
		t.Fatalf("add bridge: %v", err)
	}
	return h, br
}

// TestBridgePortsUnderChurn: the gateway counts the containers on its
// bridge while others attach and leave. A link dump that links change
// under comes back marked interrupted; taken as an error, it once made a
// gateway think its bridge gone and leave mid-attach (the attach got no
// answer: TestUserNetworkParallel, 50 containers started at once).
func TestBridgePortsUnderChurn(t *testing.T) {
	if !inOwnNetns(t) {
		return
	}
	h, br := newTestBridge(t)
	const ports = 10
	for i := range ports {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("port%d", i), MasterIndex: br.Attrs().Index}, PeerName: fmt.Sprintf("peer%d", i)}
		if err := h.LinkAdd(v); err != nil {
			t.Fatalf("add veth: %v", err)
		}
	}
	// Others come and go, off the bridge, as fast as they can.
	stop := make(chan struct{})
	var churned atomic.Int64
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ch, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			done <- err
			return
		}
		defer ch.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("churn%d", i%8)}, PeerName: fmt.Sprintf("churnp%d", i%8)}
			if err := ch.LinkAdd(v); err != nil {
				done <- fmt.Errorf("add veth: %w", err)
				return
			}
			if err := ch.LinkDel(v); err != nil {
				done <- fmt.Errorf("remove veth: %w", err)
				return
			}
			churned.Add(1)
		}
	}()
	for range 2000 {
		n, _, err := bridgePorts(h)
		if err != nil {
			close(stop)
			t.Fatalf("bridgePorts while links change: %v", err)
		}
		if n != ports {
			close(stop)
			t.Fatalf("bridgePorts counted %d ports, want %d", n, ports)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d links came and went meanwhile", churned.Load())
}

// TestPortUpdatesFollowTheBridge: the gateway keeps its count of the
// bridge's veths from the link events between listings (subscribeLinks,
// portUpdate).
// Kept from the kernel's own events while veths are added on and off
// the bridge, taken off it, and deleted, the set must be what a listing
// finds.
func TestPortUpdatesFollowTheBridge(t *testing.T) {
	if !inOwnNetns(t) {
		return
	}
	h, br := newTestBridge(t)
	tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: TAPName, MasterIndex: br.Attrs().Index}, Mode: netlink.TUNTAP_MODE_TAP}
	if err := h.LinkAdd(tap); err != nil {
		t.Fatalf("add tap: %v", err)
	}
	events, err := subscribeLinks()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	_, ports, err := bridgePorts(h)
	if err != nil {
		t.Fatal(err)
	}
	veth := func(i int, master int) *netlink.Veth {
		return &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("vl%d", i), MasterIndex: master}, PeerName: fmt.Sprintf("pe%d", i)}
	}
	for i := range 6 {
		master := br.Attrs().Index
		if i == 5 {
			master = 0 // never on the bridge
		}
		v := veth(i, master)
		if err := h.LinkAdd(v); err != nil {
			t.Fatalf("add veth: %v", err)
		}
		if err := h.LinkSetUp(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetNoMaster(veth(1, 0)); err != nil { // taken off the bridge, kept
		t.Fatal(err)
	}
	for _, i := range []int{2, 3} {
		if err := h.LinkDel(veth(i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetMaster(veth(5, 0), br); err != nil { // put on it late
		t.Fatal(err)
	}
	// A last change to wait for: every event before it has come.
	if err := h.LinkAdd(veth(9, 0)); err != nil {
		t.Fatal(err)
	}
	for last := false; !last; {
		evs, err := events.read(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			portUpdate(ports, ev, br.Attrs().Index)
			last = last || ev.name == "vl9"
		}
	}
	_, want, err := bridgePorts(h)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ports) != fmt.Sprint(want) || len(want) != 3 {
		t.Errorf("ports kept from the events %v; a listing finds %v (want vl0, vl4, vl5)", ports, want)
	}
}
