package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/internal/peercred"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/netstack/dns"
	"github.com/lodger-containers/lodger/network"
)

// GatewayArg is lodger-monitor's first argument in gateway mode.
const GatewayArg = "network-gateway"

// gatewayLinger is how long a gateway stays once the last container left
// its network: a container run again soon after (a test suite, a
// compose restart) then finds it running, and an idle network costs no
// process for long.
const gatewayLinger = 10 * time.Second

// gatewayMemoryLimit is the gateway's soft memory limit (the Go
// runtime's; the stack's buffers under load may take it past).
const gatewayMemoryLimit = 8 << 20

// ensureGateway starts the network's gateway unless one runs, and waits
// until it serves. Called with the network's lock held.
func ensureGateway(dir, record, program string, mtu int) error {
	if gatewayRunning(dir) {
		return nil
	}
	if program == "" {
		return errors.New("no gateway program")
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	logf, err := os.OpenFile(filepath.Join(dir, gatewayLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		readyW.Close()
		return fmt.Errorf("gateway log: %w", err)
	}
	defer logf.Close()
	cmd := osexec.Command(program, GatewayArg, dir, record, strconv.Itoa(mtu))
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	// Its own session, and no parent-death signal: the gateway outlives
	// whichever CLI or monitor started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	msg, _ := io.ReadAll(io.LimitReader(readyR, 4096))
	if string(msg) != "ok" {
		if len(msg) == 0 {
			msg = []byte("it exited (see " + filepath.Join(dir, gatewayLogFile) + ")")
		}
		return fmt.Errorf("start gateway: %s", msg)
	}
	return nil
}

// detachedArg, as the gateway's last argument, says no starter holds the
// network's lock or waits on fd 3: see StartGateway.
const detachedArg = "detached"

// StartGateway starts the gateway of the network whose run directory is
// dir in the background and does not wait for it: `network create` calls
// it, so that the network's namespace, bridge and gateway are made while
// the user's next command (the first run on the network) starts, not in
// that run. Such a gateway takes the network's lock itself until it
// serves, so an Attach that comes meanwhile waits for it, as it waits
// for a start under ensureGateway; one that finds another gateway
// running, or its network removed, just ends. With no container coming
// it leaves after gatewayLinger, as any gateway does.
func StartGateway(dir, record, program string, mtu int) error {
	if program == "" {
		return errors.New("no gateway program")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("network run directory: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, gatewayLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("gateway log: %w", err)
	}
	defer logf.Close()
	cmd := osexec.Command(program, GatewayArg, dir, record, strconv.Itoa(mtu), detachedArg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	// Reaped here should this process (the API service) outlive it.
	go func() { _ = cmd.Wait() }()
	return nil
}

// GatewayMain is the gateway process: lodger-monitor network-gateway DIR
// RECORD MTU [detached]. It reports "ok" on fd 3 once it serves, or why
// not; detached (StartGateway) it has no fd 3 and takes the network's
// lock itself until it serves.
func GatewayMain(args []string) int {
	detached := len(args) == 4 && args[3] == detachedArg
	// Only the ready pipe is the gateway's: whatever else its starter
	// let slip through is closed.
	var ready *os.File
	if detached {
		_ = unix.CloseRange(3, ^uint(0), 0)
	} else {
		_ = unix.CloseRange(4, ^uint(0), 0)
		syscall.CloseOnExec(3)
		ready = os.NewFile(3, "ready")
	}
	say := func(msg string) {
		if ready != nil {
			fmt.Fprint(ready, msg)
			ready.Close()
		}
	}
	release := func() {}
	fail := func(err error) int {
		say(err.Error())
		release()
		log.Printf("gateway: %v", err)
		return 1
	}
	if len(args) != 3 && !detached {
		return fail(errors.New("usage: network-gateway DIR RECORD MTU [detached]"))
	}
	dir, record := args[0], args[1]
	mtu, err := strconv.Atoi(args[2])
	if err != nil {
		return fail(fmt.Errorf("MTU %q: %w", args[2], err))
	}
	log.SetFlags(log.LstdFlags)
	if detached {
		unlock, err := lock(dir)
		if err != nil {
			return fail(err)
		}
		release = sync.OnceFunc(unlock)
		defer release()
		if _, err := os.Stat(record); errors.Is(err, os.ErrNotExist) {
			// Removed before this start got the lock: nothing to serve,
			// and the lock just made the run directory again.
			_ = os.RemoveAll(dir)
			return 0
		}
	}
	// One gateway per network: the lock is held for the process's life.
	lf, err := os.OpenFile(filepath.Join(dir, gatewayLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err)
	}
	// Closed (and so unlocked) only as the process ends: a file the
	// collector finalised would let a second gateway start.
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		// Another one won a race: it serves.
		say("ok")
		return 0
	}
	n, err := network.ReadRecord(record)
	if err != nil {
		return fail(err)
	}
	cfg, err := gatewayConfig(n)
	if err != nil {
		return fail(err)
	}
	// The network's namespace: made here when missing (a first start,
	// or a reboot that emptied the run directory). Our starter holds the
	// network's lock, or, detached, this process.
	if err := ensureNetns(dir, mtu); err != nil {
		return fail(err)
	}
	nsPath := filepath.Join(dir, netnsFile)
	tap, err := openGatewayTAP(nsPath, n.MTU)
	if err != nil {
		return fail(err)
	}
	h, err := handleIn(nsPath)
	if err != nil {
		tap.Close()
		return fail(err)
	}
	defer h.Close()
	bs, err := newBridgeSide(h)
	if err != nil {
		tap.Close()
		return fail(err)
	}
	names := newNames(record, h)
	// As the monitor's: this process carries traffic, and a higher GOGC
	// keeps the collector from emptying the stack's pools every few MiB;
	// the soft limit collects sooner when idle memory would pass it.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(gatewayMemoryLimit)
	st, err := netstack.ServeGateway(tap, cfg, names, log.Printf)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	sock := filepath.Join(dir, attachSocket)
	_ = os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fail(fmt.Errorf("attach socket: %w", err))
	}
	defer l.Close()
	// Only the user's own processes (its CLI, its containers' monitors)
	// may attach a namespace or relay a datagram: another user is
	// refused even should the directory's mode let them through.
	refused := func(err error) { log.Printf("gateway: refused a connection: %v", err) }
	go serveAttach(peercred.UnixListener{UnixListener: l, Refused: refused}, bs)
	relay := RelaySocket(dir)
	_ = os.Remove(relay)
	rl, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: relay, Net: "unixpacket"})
	if err != nil {
		return fail(fmt.Errorf("relay socket: %w", err))
	}
	defer rl.Close()
	go st.ServeRelay(peercred.UnixListener{UnixListener: rl, Refused: refused})
	// Written before the lock goes (the starter's or, detached, this
	// process's), so that whoever takes it next finds who serves.
	if err := os.WriteFile(filepath.Join(dir, gatewayPidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return fail(fmt.Errorf("gateway pid file: %w", err))
	}
	say("ok")
	release()
	watch(dir, record, nsPath, bs, names)
	return 0
}

// gatewayConfig is the stack's configuration for network n.
func gatewayConfig(n network.Network) (netstack.Config, error) {
	cfg := netstack.DefaultConfig()
	cfg.MTU = uint32(n.MTU)
	sn, ok := n.Subnet4()
	if !ok {
		return cfg, fmt.Errorf("network %s has no IPv4 subnet", n.Name)
	}
	lan := &netstack.LAN{Subnet: sn.Subnet, Gateway: sn.Gateway, MAC: GatewayMAC(n), Internal: n.Internal}
	cfg.IPv6 = false
	if sn6, ok := n.Subnet6(); ok {
		lan.Subnet6, lan.Gateway6 = sn6.Subnet, sn6.Gateway
		cfg.IPv6 = true
	}
	cfg.LAN = lan
	return cfg, nil
}

// GatewayMAC is network n's gateway MAC, the same for every run of its
// gateway, so that the containers' neighbour entries stay right.
func GatewayMAC(n network.Network) string {
	return fmt.Sprintf("02:4c:%s:%s:%s:%s", n.ID[0:2], n.ID[2:4], n.ID[4:6], n.ID[6:8])
}

// openGatewayTAP creates the gateway's TAP in the network's namespace and
// puts it on the bridge.
func openGatewayTAP(nsPath string, mtu int) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	var r result
	r.err = inNetns(nsPath, func() error {
		var err error
		r.f, err = netstack.OpenTAP(TAPName)
		return err
	})
	h, err := handleIn(nsPath)
	if err != nil {
		r.f.Close()
		return nil, err
	}
	defer h.Close()
	err = func() error {
		tap, err := h.LinkByName(TAPName)
		if err != nil {
			return err
		}
		br, err := h.LinkByName(BridgeName)
		if err != nil {
			return err
		}
		if err := h.LinkSetMTU(tap, mtu); err != nil {
			return err
		}
		if err := h.LinkSetMaster(tap, br); err != nil {
			return err
		}
		return h.LinkSetUp(tap)
	}()
	if err != nil {
		r.f.Close()
		return nil, fmt.Errorf("put the gateway on the bridge: %w", err)
	}
	return r.f, nil
}

// gatewayPoll is how often the gateway looks at its bridge's ports
// without a link event.
const gatewayPoll = 2 * time.Second

// watch returns once the network is gone, or no container has been on
// its bridge for gatewayLinger; it then holds the network's lock, so no
// Attach counts on this gateway from there on (the lock goes with the
// process).
func watch(dir, record, nsPath string, bs bridgeSide, names *names) {
	h := bs.h
	// Batches of link events; nil for events lost (look again). Without
	// the events the ticker still notices, only later.
	updates := make(chan []linkEvent, 16)
	var events *linkEvents
	err := inNetns(nsPath, func() (err error) {
		events, err = subscribeLinks()
		return err
	})
	if err != nil {
		log.Printf("gateway: link events: %v; polling every %s", err, gatewayPoll)
		updates = nil
	} else {
		defer events.Close()
		go readLinkEvents(events, updates)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	tick := time.NewTicker(gatewayPoll)
	defer tick.Stop()
	var idleSince time.Time
	failed := 0 // listings of the bridge's ports that failed in a row
	// The veths on the bridge: listed on each tick, and between ticks
	// kept from what the link events say. Listing every link for each
	// event (an attach and an exit bring several each) cost the gateway
	// about 17 ms of CPU per container run, most of it the listings'
	// garbage collected under the gateway's memory limit: CPU that the
	// run itself waited for on two cores.
	var ports map[string]bool
	for {
		list := ports == nil
		select {
		case sig := <-sigs:
			log.Printf("gateway: exiting on %v", sig)
			return
		case evs, ok := <-updates:
			for ok {
				if evs == nil {
					list = true // some were lost: the socket overflowed
				}
				for _, ev := range evs {
					if ports != nil {
						portUpdate(ports, ev, bs.bridge)
					}
				}
				select {
				case evs, ok = <-updates:
					continue
				default:
				}
				break
			}
			if !ok {
				// The subscription failed: the ticker goes on alone,
				// rather than a closed channel spinning the loop.
				log.Printf("gateway: link events stopped; polling every %s", gatewayPoll)
				updates, list = nil, true
			}
		case <-tick.C:
			list = true
		}
		if _, err := os.Stat(record); errors.Is(err, os.ErrNotExist) {
			log.Printf("gateway: exiting: the network was removed")
			return
		}
		if list {
			_, present, err := bridgePorts(h)
			if err != nil {
				var gone netlink.LinkNotFoundError
				if failed++; errors.As(err, &gone) || failed > 30 {
					log.Printf("gateway: exiting: the bridge's ports: %v", err)
					return
				}
				// Not a reason to leave the containers without their
				// gateway: the next tick or event looks again.
				log.Printf("gateway: list the bridge's ports: %v", err)
				continue
			}
			failed, ports = 0, present
		}
		names.setPresent(maps.Clone(ports))
		if count := len(ports); count > 0 {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
			continue
		}
		if time.Since(idleSince) < gatewayLinger {
			continue
		}
		unlock, err := lock(dir)
		if err != nil {
			continue
		}
		if count, _, err := bridgePorts(h); err != nil || count > 0 {
			unlock()
			idleSince = time.Time{}
			continue
		}
		_ = os.Remove(filepath.Join(dir, gatewayPidFile))
		log.Printf("gateway: exiting: no container for %s", gatewayLinger)
		return // with the lock: released when the process exits
	}
}

// readLinkEvents sends what l reads to updates, a batch per read (nil
// when events were lost), and closes updates when l fails.
func readLinkEvents(l *linkEvents, updates chan<- []linkEvent) {
	defer close(updates)
	for {
		evs, err := l.read(nil)
		if errors.Is(err, errEventsLost) {
			updates <- nil
			continue
		}
		if err != nil {
			return
		}
		if len(evs) > 0 {
			updates <- evs
		}
	}
}

// portUpdate applies a link event to ports, the veths on the bridge whose
// index is bridge (the gateway's TAP left out, as bridgePorts does).
func portUpdate(ports map[string]bool, ev linkEvent, bridge int) {
	if ev.name == TAPName {
		return
	}
	if ev.del || ev.master != bridge {
		delete(ports, ev.name)
		return
	}
	ports[ev.name] = true
}

// names answers the resolver for the network's containers, from its
// record (re-read when it changes) and only for the containers whose
// veth is on the bridge: a stopped container does not resolve, as in
// Docker.
type names struct {
	record string
	h      *netlink.Handle

	mu      sync.Mutex
	stamp   fileStamp // the record's
	vstamp  fileStamp // its volatile file's (network.VolatilePath)
	checked time.Time
	net     network.Network
	present map[string]bool
	seen    time.Time // when present was read
}

func newNames(record string, h *netlink.Handle) *names {
	n := &names{record: record, h: h}
	if _, present, err := bridgePorts(h); err == nil {
		n.present = present
	}
	return n
}

func (n *names) setPresent(p map[string]bool) {
	n.mu.Lock()
	n.present, n.seen = p, time.Now()
	n.mu.Unlock()
}

// endpoints are the record's endpoints of running containers; the
// record is stat'ed at most every 100 ms.
func (n *names) endpoints() []network.Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.checked) > 100*time.Millisecond {
		n.readRecordLocked()
		// A container that just started: its veth may be newer than the
		// last link event the watcher saw.
		if time.Since(n.seen) > 100*time.Millisecond {
			if _, present, err := bridgePorts(n.h); err == nil {
				n.present, n.seen = present, time.Now()
			}
		}
	}
	var out []network.Endpoint
	for _, e := range n.net.Endpoints {
		if n.present == nil || n.present[VethName(e.ID)] {
			out = append(out, e)
		}
	}
	// The same order every time, for round-robin clients to rotate.
	slices.SortFunc(out, func(a, b network.Endpoint) int { return compareStrings(a.ContainerID, b.ContainerID) })
	return out
}

// readRecordLocked reads the network's record again if it changed.
func (n *names) readRecordLocked() {
	n.checked = time.Now()
	st, vst := stampOf(n.record), stampOf(network.VolatilePath(n.record))
	if st.exists && (st != n.stamp || vst != n.vstamp) {
		if rec, err := network.ReadRecord(n.record); err == nil {
			n.net, n.stamp, n.vstamp = rec, st, vst
		}
	}
}

// fileStamp is what tells that a file changed: its modification time
// and size, or that it is missing.
type fileStamp struct {
	exists bool
	mtime  int64 // ns
	size   int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, mtime: fi.ModTime().UnixNano(), size: fi.Size()}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Lookup finds a container by name, short ID (or any unique ID prefix of
// 12 or more) or alias; an alias two containers share gives both. A
// client that is on other networks too also finds their containers, as
// in Docker (from those networks' records). NAME.NETWORK finds NAME on
// that network alone, as Docker's resolver does.
func (n *names) Lookup(name string, from netip.Addr) (v4, v6 []netip.Addr, ok bool) {
	eps := n.endpoints()
	if v4, v6, ok = lookup(eps, name); ok {
		return v4, v6, ok
	}
	nets := []netEndpoints{{name: n.netName(), eps: eps}}
	var asker string
	for _, e := range eps {
		if from.IsValid() && (e.IPv4 == from || e.IPv6 == from) {
			asker = e.ContainerID
		}
	}
	if asker != "" {
		nets = append(nets, n.otherNetworks(asker)...)
	}
	return lookupNets(nets, name)
}

// HostForwarding says whether the container asking from from may have
// names looked up on the host (its hosts file and resolvers): not when
// this network is --internal and so is every other network it is on,
// as Docker's resolver since CVE-2024-29018 (a container with no way out
// must not get one through DNS queries the host forwards). An asker the
// network does not know is refused on an internal network too.
func (n *names) HostForwarding(from netip.Addr) bool {
	eps := n.endpoints() // reads the record first
	n.mu.Lock()
	internal := n.net.Internal
	n.mu.Unlock()
	if !internal {
		return true
	}
	if !from.IsValid() {
		return false
	}
	for _, e := range eps {
		if e.IPv4 != from && e.IPv6 != from {
			continue
		}
		for _, p := range n.otherRecords(e.ContainerID) {
			if !p.Internal {
				return true
			}
		}
	}
	return false
}

var _ dns.HostForwarding = (*names)(nil)

// netName is the network's name.
func (n *names) netName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.net.Name
}

// netEndpoints are one network's endpoints, by container ID, and its
// name.
type netEndpoints struct {
	name string
	eps  []network.Endpoint
}

// lookupNets finds name on any of nets, or a NAME.NETWORK form of it on
// NETWORK alone: Docker's resolver tries a.b.c as a name first, then a.b
// on network c, then a on network b.c.
func lookupNets(nets []netEndpoints, name string) (v4, v6 []netip.Addr, ok bool) {
	for _, ne := range nets {
		if v4, v6, ok = lookup(ne.eps, name); ok {
			return v4, v6, ok
		}
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '.' {
			continue
		}
		for _, ne := range nets {
			if lower(ne.name) == name[i+1:] {
				if v4, v6, ok = lookup(ne.eps, name[:i]); ok {
					return v4, v6, ok
				}
			}
		}
	}
	return nil, nil, false
}

// otherNetworks are the endpoints of the other networks container id is
// on, from the records beside this network's.
func (n *names) otherNetworks(id string) []netEndpoints {
	var out []netEndpoints
	for _, rec := range n.otherRecords(id) {
		out = append(out, sortedEndpoints(rec))
	}
	return out
}

// otherRecords are the records of the other networks container id is
// on.
func (n *names) otherRecords(id string) []network.Network {
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(n.record), "*.json"))
	var out []network.Network
	for _, p := range paths {
		if p == n.record {
			continue
		}
		rec, err := network.ReadRecord(p)
		if err != nil {
			continue
		}
		if _, ok := rec.Endpoints[id]; ok {
			out = append(out, rec)
		}
	}
	return out
}

// sortedEndpoints are rec's endpoints in the same order every time, for
// round-robin clients to rotate.
func sortedEndpoints(rec network.Network) netEndpoints {
	var eps []network.Endpoint
	for _, e := range rec.Endpoints {
		eps = append(eps, e)
	}
	slices.SortFunc(eps, func(a, b network.Endpoint) int { return compareStrings(a.ContainerID, b.ContainerID) })
	return netEndpoints{name: rec.Name, eps: eps}
}

func lookup(eps []network.Endpoint, name string) (v4, v6 []netip.Addr, ok bool) {
	for _, e := range eps {
		match := false
		for _, k := range e.Names() {
			if lower(k) == name {
				match = true
			}
		}
		if len(name) >= 12 && len(name) <= 64 && len(e.ContainerID) >= len(name) && e.ContainerID[:len(name)] == name {
			match = true
		}
		if !match {
			continue
		}
		ok = true
		if e.IPv4.IsValid() {
			v4 = append(v4, e.IPv4)
		}
		if e.IPv6.IsValid() {
			v6 = append(v6, e.IPv6)
		}
	}
	return v4, v6, ok
}

// Upstreams are the --dns servers of the container asking from from:
// its names outside the network go to them instead of the host's
// resolvers.
//
// A container that just started may ask before the gateway has read
// the record or seen its veth: one that is not found is looked for once
// more after both are read again, so that its first queries do not go
// to the host's resolvers.
func (n *names) Upstreams(from netip.Addr) []netip.AddrPort {
	for try := 0; try < 2; try++ {
		if try == 1 {
			n.mu.Lock()
			n.checked, n.seen = time.Time{}, time.Time{}
			n.mu.Unlock()
		}
		for _, e := range n.endpoints() {
			if e.IPv4 != from && e.IPv6 != from {
				continue
			}
			var out []netip.AddrPort
			for _, a := range e.DNS {
				out = append(out, netip.AddrPortFrom(a, 53))
			}
			return out
		}
	}
	return nil
}

// Reverse names the container of an address on the network as
// Docker's resolver does: NAME.NETWORK.
func (n *names) Reverse(a netip.Addr) (string, bool) {
	for _, e := range n.endpoints() {
		if e.IPv4 == a || e.IPv6 == a {
			return e.Name + "." + n.netName(), true
		}
	}
	return "", false
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// AttachmentsFile is where a running container's user networks are
// listed, in its run directory: the networks of its start, and those a
// live connect added (a live disconnect takes its own out). The
// container's monitor reads it for Keep and for a restart by policy.
func AttachmentsFile(runDir string) string { return filepath.Join(runDir, "networks.json") }

// WriteAttachments replaces the container's list of attachments.
func WriteAttachments(runDir string, atts []Attachment) error {
	b, err := json.Marshal(atts)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(runDir, ".networks-*.json")
	if err != nil {
		return fmt.Errorf("write network attachments: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), AttachmentsFile(runDir))
	}
	if err != nil {
		return fmt.Errorf("write network attachments: %w", err)
	}
	return nil
}

// ReadAttachments is the container's list of attachments; none when
// there is no list.
func ReadAttachments(runDir string) ([]Attachment, error) {
	b, err := os.ReadFile(AttachmentsFile(runDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read network attachments: %w", err)
	}
	var atts []Attachment
	if err := json.Unmarshal(b, &atts); err != nil {
		return nil, fmt.Errorf("read network attachments: %w", err)
	}
	return atts, nil
}

// WithProgram is atts with program as the gateway's program. A list read
// back from a run directory names a program to start; only the caller
// knows the right one, so a list that was tampered with (the run
// directory is the user's own, never the container's) still starts
// nothing else.
func WithProgram(atts []Attachment, program string) []Attachment {
	out := slices.Clone(atts)
	for i := range out {
		out[i].Program = program
	}
	return out
}

// ForStart is atts as a start of the container plugs them: ethN from
// eth<first> on, in order; with first 0 (the container has no other
// link) the default route goes through the first.
func ForStart(atts []Attachment, first int) []Attachment {
	out := slices.Clone(atts)
	for i := range out {
		out[i].Interface = fmt.Sprintf("eth%d", first+i)
		out[i].DefaultRoute = first == 0 && i == 0
	}
	return out
}

// Keep restarts the gateways of a container's networks should they die
// (killed, say), until ctx ends: the container's monitor (or foreground
// run) runs it. It writes atts as the container's list in runDir and
// follows that list: a live connect or disconnect rewrites it and sends
// the process keepSignal (Notify), so that a network connected later is
// kept too, and one disconnected no longer. Each network's gateway is
// watched through a pidfd in the runtime's poller, no thread held.
//
// It returns reload, which reads the list again: a monitor calls it as
// it restarts the container, for a connect made between two runs.
// program is lodger-monitor, the gateway's program: the list's own
// Program fields are not trusted (see ReadAttachments).
func Keep(ctx context.Context, runDir, program string, atts []Attachment) (reload func()) {
	if err := WriteAttachments(runDir, atts); err != nil {
		for _, a := range atts {
			go keep(ctx, a)
		}
		return func() {}
	}
	var mu sync.Mutex
	kept := map[string]context.CancelFunc{}
	follow := func(atts []Attachment) {
		mu.Lock()
		defer mu.Unlock()
		want := map[string]Attachment{}
		for _, a := range atts {
			want[a.Dir] = a
		}
		for dir, cancel := range kept {
			if _, ok := want[dir]; !ok {
				cancel()
				delete(kept, dir)
			}
		}
		for dir, a := range want {
			if _, ok := kept[dir]; !ok {
				kctx, cancel := context.WithCancel(ctx)
				kept[dir] = cancel
				go keep(kctx, a)
			}
		}
	}
	follow(atts)
	reload = func() {
		if atts, err := ReadAttachments(runDir); err == nil {
			follow(WithProgram(atts, program))
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, keepSignal)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				reload()
			}
		}
	}()
	return reload
}

// Notify tells the keeper of a running container, monitorPid, that its
// list of attachments in runDir changed. A monitor of a lodger from
// before the list (none written) is left alone: the signal would end it.
func Notify(monitorPid int, runDir string) {
	if _, err := os.Stat(AttachmentsFile(runDir)); err != nil || monitorPid <= 0 {
		return
	}
	_ = unix.Kill(monitorPid, keepSignal)
}

// keepSignal tells a keeper its list changed: a real-time signal
// (SIGRTMIN+8 as glibc counts), which no one sends by accident and which
// a foreground run does not pass on to its container as it does the
// usual ones.
const keepSignal = unix.Signal(34 + 8)

func keep(ctx context.Context, a Attachment) {
	for ctx.Err() == nil {
		pid := gatewayPid(a.Dir)
		if pid > 0 {
			waitExit(ctx, pid)
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Several monitors notice at once: spread them out; the first
		// starts it under the lock, the others find it running.
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		func() {
			unlock, err := lock(a.Dir)
			if err != nil {
				return
			}
			defer unlock()
			if gatewayRunning(a.Dir) || !isMounted(filepath.Join(a.Dir, netnsFile)) {
				return
			}
			if _, err := os.Stat(a.Record); err != nil {
				return
			}
			_ = ensureGateway(a.Dir, a.Record, a.Program, a.MTU)
		}()
	}
}

// waitExit returns when pid exits or ctx ends.
func waitExit(ctx context.Context, pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	_ = rc.Read(func(fd uintptr) bool {
		return waitReadable(int(fd), 0)
	})
}

// ContainerNames answers, for container id on the default network (whose
// resolver is its monitor's, not a gateway's), the names of the user
// networks it was connected to: a container on both finds its
// neighbours by name as Docker's does. The records in dir are read again
// at most once a second. Unlike a gateway, the monitor cannot see which
// neighbours run (their veths are in the network's namespace), so a
// stopped neighbour still resolves to its address.
//
// servers are the container's --dns: with them the monitor's resolver
// asks those servers for every other name, as a gateway does for its
// containers.
func ContainerNames(dir, id string, servers []netip.Addr) dns.Names {
	c := &containerNames{dir: dir, id: id}
	for _, a := range servers {
		c.servers = append(c.servers, netip.AddrPortFrom(a, 53))
	}
	return c
}

type containerNames struct {
	dir, id string
	servers []netip.AddrPort

	mu   sync.Mutex
	read time.Time
	nets []netEndpoints
}

// networks are the endpoints of every network the container is on.
func (c *containerNames) networks() []netEndpoints {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.read) < time.Second {
		return c.nets
	}
	c.read = time.Now()
	c.nets = nil
	paths, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	for _, p := range paths {
		rec, err := network.ReadRecord(p)
		if err != nil {
			continue
		}
		if _, ok := rec.Endpoints[c.id]; !ok {
			continue
		}
		c.nets = append(c.nets, sortedEndpoints(rec))
	}
	return c.nets
}

func (c *containerNames) Lookup(name string, _ netip.Addr) (v4, v6 []netip.Addr, ok bool) {
	return lookupNets(c.networks(), name)
}

func (c *containerNames) Upstreams(netip.Addr) []netip.AddrPort { return c.servers }

func (c *containerNames) Reverse(a netip.Addr) (string, bool) {
	for _, ne := range c.networks() {
		for _, e := range ne.eps {
			if e.IPv4 == a || e.IPv6 == a {
				return e.Name + "." + ne.name, true
			}
		}
	}
	return "", false
}
