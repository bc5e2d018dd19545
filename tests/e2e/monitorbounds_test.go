//go:build e2e

package e2e

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds a container's monitor keeps whatever the container does (issue
// 12, finding 3; netstack/accept_linux.go): it holds at most 64 blocking
// accepts, on at most 16 listeners with a descriptor each in one epoll
// set that the runtime's poller waits on, serves at most 16 trapped
// accepts at once with up to three descriptors each, parks at most 16
// connections accepted for callers gone, and keeps one io_uring:
// 16+48+16+2 descriptors more than before, rounded up. Its threads
// are the Go runtime's and those briefly in a system call: none waits for
// the container. The old monitor spent a thread per listener with a
// blocking accept and two descriptors per accept.
const (
	monitorMaxThreads  = 40
	monitorMaxFDsAdded = 96
)

// TestMonitorBounds: a container with the accept bypass holds thousands
// of blocking accepts on many listening sockets and flips O_NONBLOCK
// under accepts on a few more. Its monitor's threads and descriptors stay
// within a stated bound, its own published port still answers its
// clients, and so does another container's.
func TestMonitorBounds(t *testing.T) {
	e := shared
	ip := hostIPv4(t)
	netOpts := []string{"--network", "netstack:accept_bypass=true"}

	port := freePort(t, "tcp", netip.IPv4Unspecified())
	public := netip.AddrPortFrom(ip, uint16(port)).String()
	args := append(netOpts, "-p", fmt.Sprintf("%d:8080", port), netImage(),
		"nettool", "hostile", "-after", "3s", "-threads", "2000", "-listeners", "200", "-flipped", "4", "8080")
	runDetached(t, e, "mon-hostile", args...)

	other := freePort(t, "tcp", netip.IPv4Unspecified())
	otherPublic := netip.AddrPortFrom(ip, uint16(other)).String()
	runDetached(t, e, "mon-bystander", append(netOpts, "-p", fmt.Sprintf("%d:8080", other), netImage(), "nettool", "serve", "tcp", "8080")...)

	waitHello(t, "tcp", public)
	r := e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", "mon-hostile")
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s\nwant the monitor's pid", r)
	}
	fds0, threads0 := procCounts(t, pid)
	t.Logf("the monitor before the attack: %d fds, %d threads", fds0, threads0)

	waitLogs := func(name, word string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			r := e.lodger(t, "logs", name)
			if strings.Contains(r.stdout, word) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s\nno %q in %s's log within 60s", r, word, name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitLogs("mon-hostile", "holding")

	// Sample for a while: a monitor that spends a thread per held accept
	// grows as the container's threads reach their accepts.
	maxFDs, maxThreads := 0, 0
	for range 10 {
		fds, threads := procCounts(t, pid)
		maxFDs, maxThreads = max(maxFDs, fds), max(maxThreads, threads)
		// The container's port still answers, as itself.
		helloAsItself(t, ip, public)
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the monitor under attack: at most %d fds, %d threads", maxFDs, maxThreads)
	if maxThreads > monitorMaxThreads {
		t.Errorf("the monitor ran %d threads while the container held 2000 accepts, want at most %d", maxThreads, monitorMaxThreads)
	}
	if maxFDs > fds0+monitorMaxFDsAdded {
		t.Errorf("the monitor held %d fds while the container held 2000 accepts (%d before), want at most %d more", maxFDs, fds0, monitorMaxFDsAdded)
	}
	if reply, _, err := sayHello("tcp", netip.Addr{}, fmt.Sprintf("127.0.0.1:%d", port)); err != nil || !strings.HasPrefix(reply, "hello ") {
		t.Errorf("the hostile container's port from the host's loopback: reply %q, %v", reply, err)
	}
	for range 5 {
		helloAsItself(t, ip, otherPublic)
	}
	if r := e.lodger(t, "inspect", "-f", "{{.State.Status}} {{.Lodger.MonitorPid}}", "mon-hostile"); strings.TrimSpace(r.stdout) != "running "+strconv.Itoa(pid) {
		t.Errorf("%s\nwant the container running with its monitor %d", r, pid)
	}
}

// TestMonitorBoundsConnect: with the connect bypass, 300 threads of a
// container connect, blocking, to a host address whose listener's queue
// is full, so that their handshakes go unanswered until the dial timeout.
// The monitor waits for those connects in the runtime's poller: its
// threads stay within the bound (the old monitor polled each on a thread
// of its own: 262 threads). Its descriptors stay within max_half_open
// (256) host sockets of bypassed connects, one each, and as many of the
// stack's own handshakes, which the connects past the bypass's bound
// take, more.
func TestMonitorBoundsConnect(t *testing.T) {
	e := shared
	ip := hostIPv4(t)
	// A listener with a backlog of 0 that never accepts: once the first
	// client fills its queue, the kernel drops the SYNs that follow.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: ip.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	blackhole := netip.AddrPortFrom(ip, uint16(sa.(*syscall.SockaddrInet4).Port)).String()

	runDetached(t, e, "mon-connects", "--network", "netstack:bypass=true", netImage(),
		"nettool", "hostile", "-after", "3s", "-threads", "0", "-flipped", "0", "-listeners", "1", "-connects", "300", "-connect", blackhole, "8080")
	r := e.lodger(t, "inspect", "-f", "{{.Lodger.MonitorPid}}", "mon-connects")
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s\nwant the monitor's pid", r)
	}
	time.Sleep(time.Second)
	fds0, threads0 := procCounts(t, pid)
	t.Logf("the monitor before the attack: %d fds, %d threads", fds0, threads0)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(e.lodger(t, "logs", "mon-connects").stdout, "holding") {
		if time.Now().After(deadline) {
			t.Fatal("the attack did not start within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	maxFDs, maxThreads := 0, 0
	for range 10 {
		fds, threads := procCounts(t, pid)
		maxFDs, maxThreads = max(maxFDs, fds), max(maxThreads, threads)
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the monitor under attack: at most %d fds, %d threads", maxFDs, maxThreads)
	if maxThreads > monitorMaxThreads {
		t.Errorf("the monitor ran %d threads while the container made 300 blocking connects, want at most %d", maxThreads, monitorMaxThreads)
	}
	if maxFDs > fds0+2*256+monitorMaxFDsAdded {
		t.Errorf("the monitor held %d fds while the container made 300 blocking connects (%d before), want at most %d more", maxFDs, fds0, 2*256+monitorMaxFDsAdded)
	}
}
