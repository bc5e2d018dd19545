// Package bridge is the kernel side of lodger's user networks: each
// network's namespace with its bridge, a veth pair per container, and the
// network's gateway process.
//
// Everything runs in the session's user and mount namespaces, where the
// user is root:
//
//   - The network's namespace is made on demand (ensureNetns, in the
//     gateway process) by a thread
//     that unshares CLONE_NEWNET, creates the bridge br0 there and
//     bind-mounts its /proc/thread-self/ns/net on <dir>/netns, as `ip
//     netns add` does, so that the namespace outlives every process (the
//     mount lives in the session's mount namespace; a reboot, which
//     empties the run directory, makes it again from the record).
//   - Attach, a container's prestart hook, hands the container's network
//     namespace (an fd) to the gateway over its attach socket; the
//     gateway creates a veth pair in the network's namespace whose peer
//     lands in the container's namespace as eth0 (eth1... for further
//     networks), enslaves the near end to br0 and addresses the far end.
//     Container to container is then veth, bridge, veth: kernel to
//     kernel.
//   - The gateway process (GatewayMain, a mode of lodger-monitor) holds a
//     TAP on br0 and runs lodger's userspace stack on it as the network's
//     gateway: NAT out (not for --internal), ICMP echo, and DNS at the
//     gateway address for the names of this network's containers. It is
//     started in the background by `network create` (StartGateway), by a
//     run as soon as its address is taken (Warm), or by the first Attach
//     that finds none (under the network's lock), and exits once no
//     container has been on the bridge for gatewayLinger. Killed, it is
//     started again by the next Attach or by a monitor that watches it
//     (Keep); the bridge, the veths and so the traffic between
//     containers never depended on it.
package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lodger-containers/lodger/internal/flock"
	"github.com/lodger-containers/lodger/internal/peercred"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Names inside the network's namespace.
const (
	BridgeName = "br0"
	TAPName    = "gw0"
)

// Files of a network's run directory, <rundir>/networks/NAME.
const (
	netnsFile       = "netns"        // the namespace's bind mount
	lockFile        = "lock"         // serialises attach, gateway start and exit
	gatewayLockFile = "gateway.lock" // held by the running gateway
	gatewayPidFile  = "gateway.pid"
	gatewayLogFile  = "gateway.log"
	attachSocket    = "attach.sock" // the gateway's: see Attach
	relaySocket     = "udp.sock"    // the gateway's: published UDP ports (netstack's relay)
)

// RelaySocket is the gateway's socket for the published UDP ports of the
// network's containers, whose monitors have no stack of their own.
func RelaySocket(dir string) string { return filepath.Join(dir, relaySocket) }

// Dir is a network's run directory: <rundir>/networks/NAME, or, when
// that would make its sockets' paths longer than a unix socket's address
// holds (107 bytes: a long name, or a long XDG_RUNTIME_DIR, such as
// testcontainers' 36-character network names under a CI runner's), a
// name made of a hash of NAME, the same every time.
func Dir(runRoot, name string) string {
	dir := filepath.Join(runRoot, "networks", name)
	if len(filepath.Join(dir, attachSocket)) <= maxSocketPath {
		return dir
	}
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(runRoot, "networks", "h-"+hex.EncodeToString(sum[:8]))
}

// maxSocketPath is the longest path a unix socket's address holds
// (sun_path's 108 bytes with the NUL that ends it).
const maxSocketPath = 107

// Attachment is one container's place on one network: what its prestart
// needs, worked out by the CLI from the network's record.
type Attachment struct {
	Network string `json:"network"`
	// NetworkID is the network's ID, for Docker's network events (a
	// list written by an older lodger has none: the record has it).
	NetworkID string `json:"networkID,omitempty"`
	// Dir is the network's run directory, Record its record file.
	Dir    string `json:"dir"`
	Record string `json:"record"`
	// Program is lodger-monitor, whose gateway mode is started when the
	// network has no gateway running.
	Program   string `json:"program"`
	Interface string `json:"interface"` // eth0, eth1...
	Veth      string `json:"veth"`      // the near end, on the bridge
	MAC       string `json:"mac"`
	// Address and Address6 are the container's, with the subnet's length.
	Address      netip.Prefix `json:"address,omitzero"`
	Address6     netip.Prefix `json:"address6,omitzero"`
	Gateway      netip.Addr   `json:"gateway,omitzero"`
	Gateway6     netip.Addr   `json:"gateway6,omitzero"`
	MTU          int          `json:"mtu"`
	DefaultRoute bool         `json:"defaultRoute,omitempty"`
}

// VethName is the near end of an endpoint's veth pair: unique per
// container and network, at most IFNAMSIZ-1 bytes.
func VethName(endpointID string) string { return "vl" + endpointID[:12] }

// lock takes the network's flock in dir.
func lock(dir string) (func(), error) {
	unlock, err := flock.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("lock network: %w", err)
	}
	return unlock, nil
}

// attachRequest is what a gateway reads on its attach socket, with the
// container's network namespace as an fd (SCM_RIGHTS).
type attachRequest struct {
	Attachment Attachment `json:"attachment"`
	// DetachMAC, when set, removes the container's interface of that
	// MAC instead.
	DetachMAC string `json:"detachMAC,omitempty"`
}

// Attach gives the container whose init is pid its interface on the
// network, starting the network's gateway first where none runs (which
// makes the network's namespace where it is missing).
//
// The namespace work is the gateway's: the caller sends it the
// container's network namespace as an fd over the gateway's attach
// socket. A thread that joins another network namespace cannot come
// back to the host's (the session's root has no rights there), so it
// must end, and a thread that ends sends the parent-death signal to the
// children it started, such as the container's init: so no monitor or
// CLI ever joins one. The gateway starts nothing that must outlive its
// threads.
func Attach(pid int, a Attachment) error {
	unlock, err := lock(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return serve(pid, a, attachRequest{Attachment: a})
}

// serve makes sure the network's gateway runs and sends it r. A gateway
// found running may be on its way out (its attach socket already gone,
// its lock not yet released as its process ends): then serve waits for
// it to go, up to 5 s, and starts a new one. Seen once in a full CI run
// of TestUserNetworkParallel ("reach the gateway: … no such file").
func serve(pid int, a Attachment, r attachRequest) error {
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := ensureGateway(a.Dir, a.Record, a.Program, a.MTU); err != nil {
			return fmt.Errorf("network %s: %w", a.Network, err)
		}
		err := call(a.Dir, pid, r)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errGatewayGone) || time.Now().After(deadline) {
			return fmt.Errorf("network %s: %w", a.Network, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Warm starts, in the background, the gateway of each network in atts
// that has none running, and returns a wait for those starts. A run
// calls it as soon as the container's addresses are taken: the gateway's
// start (its process, and on a network's first use its namespace and
// bridge) then overlaps with the container's root filesystem and init,
// which it otherwise followed in the prestart, and Attach, which takes
// the same lock, finds it serving. A start that fails is left for
// Attach to repeat and report.
func Warm(atts []Attachment) (wait func()) {
	var wg sync.WaitGroup
	for _, a := range atts {
		if gatewayRunning(a.Dir) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := lock(a.Dir)
			if err != nil {
				return
			}
			defer unlock()
			_ = ensureGateway(a.Dir, a.Record, a.Program, a.MTU)
		}()
	}
	return wg.Wait
}

// errGatewayGone: the gateway's attach socket is missing or refuses, as
// when the gateway is exiting.
var errGatewayGone = errors.New("the gateway is not serving")

// Detach takes the container's interface with MAC mac off network a (a
// live disconnect): deleting one end of a veth pair deletes both.
func Detach(pid int, mac string, a Attachment) error {
	unlock, err := lock(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return serve(pid, a, attachRequest{Attachment: a, DetachMAC: mac})
}

// call sends r with the network namespace of pid to the gateway in dir
// and waits for its answer: "ok" or the error.
func call(dir string, pid int, r attachRequest) error {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer ns.Close()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: filepath.Join(dir, attachSocket), Net: "unix"})
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			err = fmt.Errorf("%w: %w", errGatewayGone, err)
		}
		return fmt.Errorf("reach the gateway: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.WriteMsgUnix(b, unix.UnixRights(int(ns.Fd())), nil); err != nil {
		return fmt.Errorf("ask the gateway: %w", err)
	}
	_ = c.CloseWrite()
	reply, err := io.ReadAll(io.LimitReader(c, 4096))
	if err != nil {
		return fmt.Errorf("gateway's answer: %w", err)
	}
	if string(reply) != "ok" {
		if len(reply) == 0 {
			return errors.New("the gateway gave no answer (see " + filepath.Join(dir, gatewayLogFile) + ")")
		}
		return errors.New(string(reply))
	}
	return nil
}

// bridgeSide is the gateway's own way to the network's namespace: a
// netlink handle whose socket lives there, made once as the gateway
// starts (a handle is safe for concurrent use: its socket is locked per
// request), and the bridge's index. Each attach used to make its own,
// on a thread of its own, and look the bridge up: ~1 ms of a container's
// start.
type bridgeSide struct {
	h      *netlink.Handle
	bridge int
}

func newBridgeSide(h *netlink.Handle) (bridgeSide, error) {
	br, err := h.LinkByName(BridgeName)
	if err != nil {
		return bridgeSide{}, fmt.Errorf("find bridge: %w", err)
	}
	return bridgeSide{h: h, bridge: br.Attrs().Index}, nil
}

// serveAttach answers attach and detach requests on l: each brings the
// container's network namespace as an fd.
func serveAttach(l peercred.UnixListener, bs bridgeSide) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			err := handleAttach(c, bs)
			reply := "ok"
			if err != nil {
				reply = err.Error()
			}
			_, _ = io.WriteString(c, reply)
		}()
	}
}

// requestBuffers hold attach requests as they are read: 64 KiB each, too
// much to make afresh per attach in a process that runs under an 8 MiB
// memory limit (its garbage is collections).
var requestBuffers = sync.Pool{New: func() any { return new([64 << 10]byte) }}

func handleAttach(c *net.UnixConn, bs bridgeSide) error {
	b := requestBuffers.Get().(*[64 << 10]byte)
	defer requestBuffers.Put(b)
	buf := b[:]
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return fmt.Errorf("read attach request: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return errors.New("attach request without a network namespace")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return errors.New("attach request without a network namespace")
	}
	defer unix.Close(fds[0])
	var st unix.Statfs_t
	if err := unix.Fstatfs(fds[0], &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return errors.New("attach request: not a namespace")
	}
	var r attachRequest
	if err := json.Unmarshal(buf[:n], &r); err != nil {
		return fmt.Errorf("read attach request: %w", err)
	}
	ctrPath := fmt.Sprintf("/proc/self/fd/%d", fds[0])
	if r.DetachMAC != "" {
		return detach(ctrPath, r.DetachMAC)
	}
	return plug(bs, ctrPath, r.Attachment)
}

// isMounted says whether path is a namespace's bind mount.
func isMounted(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// ensureNetns makes the network's namespace and bridge unless its mount
// exists. Called with the network's lock held.
func ensureNetns(dir string, mtu int) error {
	path := filepath.Join(dir, netnsFile)
	if isMounted(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	f.Close()
	// The thread that unshares never comes back (see inNetns): it ends
	// once the namespace is mounted and its bridge made.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("create network namespace: %w", err)
			return
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("mount network namespace: %w", err)
			return
		}
		errc <- setupBridge(mtu)
	}()
	if err := <-errc; err != nil {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		return err
	}
	return nil
}

// setupBridge runs in the new namespace: lo and br0 up.
func setupBridge(mtu int) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName, MTU: mtu}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge: %w", err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring up bridge: %w", err)
	}
	return nil
}

// inNetns runs fn on a thread that joined the network namespace at path
// (a network's mount, or /proc/PID/ns/net). The thread never comes back
// (the host's namespace is not the session root's to enter) and ends
// with fn; what fn made there, sockets above all, stays usable from any
// thread. Only the gateway process calls it: see Attach.
func inNetns(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends here
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("join network namespace %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// handleIn returns a netlink handle whose socket lives in the namespace
// at path.
func handleIn(path string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := inNetns(path, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink in network namespace: %w", err)
	}
	return h, nil
}

// plug creates the container's veth pair and configures its end.
// The container's side is made from one thread in its namespace (see
// inNetns), which the sysctl below needs and which a handle made there
// would take anyway.
func plug(bs bridgeSide, ctrPath string, a Attachment) error {
	mac, err := net.ParseMAC(a.MAC)
	if err != nil {
		return fmt.Errorf("MAC %q: %w", a.MAC, err)
	}
	cns, err := netns.GetFromPath(ctrPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", ctrPath, err)
	}
	defer cns.Close()
	return inNetns(ctrPath, func() error {
		ch, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink in the container's network namespace: %w", err)
		}
		defer ch.Close()
		return plugFrom(bs, ch, cns, mac, a)
	})
}

// plugFrom is plug's work on the thread in the container's namespace:
// nh (the bridge's side) and ch (the container's) are handles whose
// sockets live in those namespaces.
func plugFrom(bs bridgeSide, ch *netlink.Handle, cns netns.NsHandle, mac net.HardwareAddr, a Attachment) error {
	nh := bs.h
	if a.Interface == "" {
		// A live connect: the next ethN the container does not have.
		links, err := linkList(ch)
		if err != nil {
			return fmt.Errorf("list interfaces: %w", err)
		}
		for i := 0; a.Interface == ""; i++ {
			name := fmt.Sprintf("eth%d", i)
			if !slices.ContainsFunc(links, func(l netlink.Link) bool { return l.Attrs().Name == name }) {
				a.Interface = name
			}
		}
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: a.Veth, MTU: a.MTU, MasterIndex: bs.bridge},
		PeerName:         a.Interface,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(cns),
		PeerMTU:          uint32(a.MTU),
	}
	err := nh.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// The pair of the container's last run: its namespace is going,
		// and the kernel frees its devices a little later.
		if old, lerr := nh.LinkByName(a.Veth); lerr == nil {
			_ = nh.LinkDel(old)
		}
		err = nh.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("create veth pair: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = nh.LinkDel(veth)
		}
	}()
	if err := nh.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring up %s: %w", a.Veth, err)
	}
	peer, err := ch.LinkByName(a.Interface)
	if err != nil {
		return fmt.Errorf("find %s: %w", a.Interface, err)
	}
	for _, p := range []netip.Prefix{a.Address, a.Address6} {
		if !p.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			// Nothing else holds this address: no need to wait a second
			// for duplicate address detection.
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := ch.AddrAdd(peer, addr); err != nil {
			return fmt.Errorf("address %s: %w", a.Interface, err)
		}
	}
	if !a.Address6.IsValid() {
		// As Docker does on a network without IPv6: no IPv6 on the
		// interface, so no link-local address, duplicate address
		// detection or router solicitation either (kernel work that
		// followed every start).
		if err := disableIPv6(a.Interface); err != nil {
			return err
		}
	}
	if err := ch.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bring up %s: %w", a.Interface, err)
	}
	// lo is the container init's to bring up (exec's opLoopback), as
	// for any container with a network namespace of its own.
	if a.DefaultRoute {
		for _, gw := range []netip.Addr{a.Gateway, a.Gateway6} {
			if !gw.IsValid() || (gw.Is6() && !a.Address6.IsValid()) {
				continue
			}
			r := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw.AsSlice()}
			if err := ch.RouteAdd(r); err != nil {
				return fmt.Errorf("route through %s: %w", gw, err)
			}
		}
	}
	ok = true
	return nil
}

// disableIPv6 turns IPv6 off on interface name of the calling thread's
// network namespace (its sysctls are the namespace's of the thread that
// opens them); a kernel without IPv6 has nothing to turn off.
func disableIPv6(name string) error {
	err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disable IPv6 on %s: %w", name, err)
	}
	return nil
}

func detach(ctrPath string, mac string) error {
	ch, err := handleIn(ctrPath)
	if err != nil {
		return err
	}
	defer ch.Close()
	links, err := linkList(ch)
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for _, l := range links {
		if l.Attrs().HardwareAddr.String() == mac {
			if err := ch.LinkDel(l); err != nil {
				return fmt.Errorf("remove %s: %w", l.Attrs().Name, err)
			}
			return nil
		}
	}
	return nil // gone with a restart already
}

// Teardown takes a removed network's kernel side down: its gateway is
// stopped and its namespace unmounted (the kernel frees it with the last
// user; a removed network has none).
func Teardown(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if pid := gatewayPid(dir); pid > 0 {
		_ = unix.Kill(pid, unix.SIGTERM)
	}
	path := filepath.Join(dir, netnsFile)
	if isMounted(path) {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount network namespace: %w", err)
		}
	}
	return os.RemoveAll(dir)
}

// gatewayPid is the pid of the network's running gateway, 0 for none: a
// pid the file names whose holder still holds the gateway's lock.
func gatewayPid(dir string) int {
	if !gatewayRunning(dir) {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, gatewayPidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// gatewayRunning says whether some process holds the gateway's lock.
func gatewayRunning(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, gatewayLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	return false // we got it: nobody holds it (closing drops it)
}

// linkList lists h's links. A dump that links changed under (as when
// many containers attach at once) comes back marked interrupted and
// perhaps incomplete: it is taken again, up to 20 times.
func linkList(h *netlink.Handle) ([]netlink.Link, error) {
	for i := 0; ; i++ {
		links, err := h.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 20 {
			return links, err
		}
	}
}

// bridgePorts counts the veths on the bridge (the gateway's TAP left out).
func bridgePorts(h *netlink.Handle) (int, map[string]bool, error) {
	br, err := h.LinkByName(BridgeName)
	if err != nil {
		return 0, nil, err
	}
	links, err := linkList(h)
	if err != nil {
		return 0, nil, err
	}
	names := map[string]bool{}
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index && l.Attrs().Name != TAPName {
			names[l.Attrs().Name] = true
		}
	}
	return len(names), names, nil
}

// waitReadable waits until fd is readable or d passed.
func waitReadable(fd int, d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds, int(d/time.Millisecond))
	return n > 0
}
