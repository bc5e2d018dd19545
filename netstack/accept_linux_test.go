package netstack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseAcceptBypass(t *testing.T) {
	// Off by default: the handed socket is the host's (issue 12).
	if c, _ := ParseOptions(""); c.AcceptBypass {
		t.Error("accept_bypass on by default, want off")
	}
	if c, err := ParseOptions("accept_bypass=true"); err != nil || !c.AcceptBypass {
		t.Errorf("accept_bypass=true: AcceptBypass = %v (%v), want on", c.AcceptBypass, err)
	}
	if c, err := ParseOptions("accept_bypass=false"); err != nil || c.AcceptBypass {
		t.Errorf("accept_bypass=false: AcceptBypass = %v (%v), want off", c.AcceptBypass, err)
	}
}

// selfMem opens this process's /proc/self/mem, as the monitor opens a
// caller's.
func selfMem(t *testing.T) int {
	t.Helper()
	mem, err := unix.Open("/proc/self/mem", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(mem) })
	return mem
}

// TestWriteSockaddr writes into this process's own memory, as into a
// caller's: the kernel's truncation and written-back length.
func TestWriteSockaddr(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.7:4321")
	for _, tc := range []struct {
		name          string
		family, have  int
		wantLen       uint32
		wantFamily    uint16
		wantAddrBytes int
	}{
		{"inet", unix.AF_INET, 128, unix.SizeofSockaddrInet4, unix.AF_INET, 16},
		{"inet6, v4-mapped", unix.AF_INET6, 128, unix.SizeofSockaddrInet6, unix.AF_INET6, 28},
		{"truncated", unix.AF_INET6, 8, unix.SizeofSockaddrInet6, unix.AF_INET6, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 128)
			for i := range buf {
				buf[i] = 0xee
			}
			addrLen := uint32(tc.have)
			errno := writeSockaddr(selfMem(t), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&addrLen)), tc.family, client)
			if errno != 0 {
				t.Fatal(errno)
			}
			if addrLen != tc.wantLen {
				t.Errorf("length written back %d, want %d", addrLen, tc.wantLen)
			}
			if buf[tc.wantAddrBytes] != 0xee {
				t.Errorf("wrote past %d bytes: % x", tc.wantAddrBytes, buf[:32])
			}
			if tc.wantAddrBytes < 16 {
				return
			}
			fam, got, ok := parseSockaddr(buf[:tc.wantAddrBytes])
			if !ok || uint16(fam) != tc.wantFamily {
				t.Fatalf("family %d (%v), want %d", fam, ok, tc.wantFamily)
			}
			if diff := cmp.Diff(client.String(), netip.AddrPortFrom(got.Addr().Unmap(), got.Port()).String()); diff != "" {
				t.Errorf("address (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandoffSettle: a handoff nobody claims is spliced after the wait
// and can no longer be claimed; a claimed one ends as the claimer says.
func TestHandoffSettle(t *testing.T) {
	var hs handoffs
	key := handoffKey{8080, netip.MustParseAddrPort("192.0.2.7:4321")}
	add := func() *handoff {
		ho := newHandoff(nil, unix.AF_INET6, key.peer)
		hs.add(key, ho)
		return ho
	}
	ho := add()
	if ho.settle(time.Millisecond) {
		t.Error("unclaimed handoff settled as handed over")
	}
	if hs.claim(key) != nil {
		t.Error("spliced handoff claimed")
	}
	hs.remove(ho)

	for _, handed := range []bool{true, false} {
		ho := add()
		if got := hs.claim(key); got != ho {
			t.Fatalf("claim = %p, want %p", got, ho)
		}
		if hs.claim(key) != nil {
			t.Error("claimed twice")
		}
		ho.result <- handed
		if got := ho.settle(time.Hour); got != handed {
			t.Errorf("settle = %v, want %v", got, handed)
		}
		hs.remove(ho)
	}
	if hs.claim(key) != nil {
		t.Error("removed handoff claimed")
	}
}

// TestMayAccept: a port with no word yet waits for a trapped accept; one
// whose last client waited in vain does not, until an accept is seen on
// it again; nor does one whose listener is of another family than the
// client's host socket (issue 12: an AF_INET server handed an AF_INET6
// socket).
func TestMayAccept(t *testing.T) {
	var hs handoffs
	const port = 8080
	if !hs.mayAccept(port, unix.AF_INET6) {
		t.Error("a port never seen does not wait: an epoll server's first client would be spliced")
	}
	hs.sawAccept(port, false, 0)
	if hs.mayAccept(port, unix.AF_INET6) {
		t.Error("a port whose client waited in vain still waits")
	}
	if !hs.mayAccept(port+1, unix.AF_INET6) {
		t.Error("another port's miss stops this one waiting")
	}
	hs.sawAccept(port, true, unix.AF_INET6)
	if !hs.mayAccept(port, unix.AF_INET6) {
		t.Error("a port with a trapped accept seen does not wait")
	}
	hs.sawAccept(port, true, unix.AF_INET)
	if hs.mayAccept(port, unix.AF_INET6) {
		t.Error("an AF_INET6 host socket waits for an AF_INET listener's accept")
	}
	if !hs.mayAccept(port, unix.AF_INET) {
		t.Error("an AF_INET host socket does not wait for an AF_INET listener's accept")
	}
}

// TestHandoffsByPort: two published ports may have clients of the same
// address and port; an accept on one listener claims only its own port's
// (issue 12).
func TestHandoffsByPort(t *testing.T) {
	var hs handoffs
	peer := netip.MustParseAddrPort("192.0.2.7:4321")
	a, b := newHandoff(nil, unix.AF_INET6, peer), newHandoff(nil, unix.AF_INET6, peer)
	hs.add(handoffKey{80, peer}, a)
	hs.add(handoffKey{443, peer}, b)
	if got := hs.claim(handoffKey{80, peer}); got != a {
		t.Fatalf("an accept on port 80 claimed %p, want port 80's %p (port 443's is %p)", got, a, b)
	}
	if got := hs.claim(handoffKey{443, peer}); got != b {
		t.Fatalf("an accept on port 443 claimed %p, want %p", got, b)
	}
	hs.remove(a)
	hs.remove(b)
	if n := len(hs.byKey); n != 0 {
		t.Errorf("%d handoffs left after both were removed", n)
	}
}

// TestListenerAccepts: a held accept is handed a published client only
// where the kernel would have given its listener that connection, and
// only a host socket of the listener's own family.
func TestListenerAccepts(t *testing.T) {
	to4 := netip.MustParseAddrPort("10.0.2.100:8080")
	to6 := netip.MustParseAddrPort("[fd4c:6f64:6765::100]:8080")
	any6, any4 := netip.IPv6Unspecified(), netip.IPv4Unspecified()
	for _, tc := range []struct {
		name   string
		li     *listenerInfo
		to     netip.AddrPort
		family int
		want   bool
	}{
		{"dual-stack, IPv4 client", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8080}, to4, unix.AF_INET6, true},
		{"dual-stack, IPv6 client", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8080}, to6, unix.AF_INET6, true},
		{"AF_INET listener, AF_INET6 host socket", &listenerInfo{family: unix.AF_INET, addr: any4, port: 8080}, to4, unix.AF_INET6, false},
		{"AF_INET listener, AF_INET host socket", &listenerInfo{family: unix.AF_INET, addr: any4, port: 8080}, to4, unix.AF_INET, true},
		{"AF_INET6 listener, AF_INET host socket", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8080}, to4, unix.AF_INET, false},
		{"IPv6-only listener, IPv4 client", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8080, v6only: true}, to4, unix.AF_INET6, false},
		{"another port", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8081}, to4, unix.AF_INET6, false},
		{"bound to loopback", &listenerInfo{family: unix.AF_INET, addr: netip.MustParseAddr("127.0.0.1"), port: 8080}, to4, unix.AF_INET, false},
		{"bound to the container's address", &listenerInfo{family: unix.AF_INET, addr: to4.Addr(), port: 8080}, to4, unix.AF_INET, true},
		{"bound to the v4-mapped address", &listenerInfo{family: unix.AF_INET6, addr: netip.MustParseAddr("::ffff:10.0.2.100"), port: 8080}, to4, unix.AF_INET6, true},
		{"TCP_DEFER_ACCEPT", &listenerInfo{family: unix.AF_INET6, addr: any6, port: 8080, deferAccept: true}, to4, unix.AF_INET6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.li.bypass = true
			if got := tc.li.accepts(tc.to, tc.family); got != tc.want {
				t.Errorf("accepts(%s, %d) = %v, want %v", tc.to, tc.family, got, tc.want)
			}
		})
	}
}

// TestAcceptNoWait: the monitor's accept on a container's socket never
// waits, even on a blocking one (issue 12: the container owns its
// O_NONBLOCK and can clear it under any check), and still takes a
// connection that is queued.
func TestAcceptNoWait(t *testing.T) {
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0) // blocking
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 8); err != nil {
		t.Fatal(err)
	}
	type result struct {
		fd  int
		err error
	}
	accept := func() result {
		done := make(chan result, 1)
		go func() {
			fd, err := acceptNoWait(l)
			done <- result{fd, err}
		}()
		select {
		case r := <-done:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("acceptNoWait waited on a blocking socket with nothing queued")
		}
		return result{}
	}
	r := accept()
	if errors.Is(r.err, errNoRing) {
		t.Fatalf("no io_uring accept that never waits on this kernel (6.10 or later, kernel.io_uring_disabled=0): %v", r.err)
	}
	if r.err != unix.EAGAIN {
		t.Fatalf("accept with nothing queued: fd %d, %v; want EAGAIN", r.fd, r.err)
	}
	// A socket that does not listen (one the container shut down, say)
	// is refused as by accept4, and leaves the ring usable.
	notListening, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(notListening)
	if fd, err := acceptNoWait(notListening); err != unix.EINVAL {
		t.Errorf("accept on a socket that does not listen: fd %d, %v; want EINVAL", fd, err)
	}
	sa, err := unix.Getsockname(l)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got result
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = accept(); got.err != unix.EAGAIN {
			break
		}
	}
	if got.err != nil {
		t.Fatalf("accept with a connection queued: %v", got.err)
	}
	defer unix.Close(got.fd)
	peer, err := unix.Getpeername(got.fd)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.LocalAddr().(*net.TCPAddr).Port; peer.(*unix.SockaddrInet4).Port != want {
		t.Errorf("accepted a connection from port %d, want the client's %d", peer.(*unix.SockaddrInet4).Port, want)
	}
	if fl, err := unix.FcntlInt(uintptr(got.fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("accepted socket flags %#x (%v), want O_NONBLOCK", fl, err)
	}
}

// TestWriteSockaddrPinned: the caller's memory is written through the
// /proc/TID/mem opened before the notification was checked, so a caller
// that died meanwhile is never written to, nor whatever process takes
// its id after it (issue 12).
func TestWriteSockaddrPinned(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Open(fmt.Sprintf("/proc/%d/mem", cmd.Process.Pid), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its status says nothing
		t.Fatal(err)
	}
	defer unix.Close(mem)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: its status says nothing
	// Any address: the process the descriptor was opened for is gone,
	// and the descriptor never follows its pid to another.
	var buf [128]byte
	addrLen := uint32(len(buf))
	if errno := writeSockaddr(mem, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&addrLen)), unix.AF_INET, netip.MustParseAddrPort("192.0.2.7:4321")); errno != unix.EFAULT {
		t.Errorf("writing to a caller gone: %v, want EFAULT", errno)
	}
}

// TestParkedConnections: connections accepted for callers that were gone
// (an interrupted blocking accept) are parked on their listener and
// taken in order, each once, by its next accepts; one nobody takes
// within parkWait is put back (here, with no namespace to put it back
// into, closed) and its claimed host socket returned to dialIn.
func TestParkedConnections(t *testing.T) {
	st := &Stack{}
	tr := &connectTrap{st: st}
	const ino = 42
	li := &listenerInfo{}
	var peer int // the other end of the last socket made
	socket := func() int {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		peer = fds[1]
		t.Cleanup(func() { unix.Close(fds[1]) })
		return fds[0]
	}
	a, b := &accepted{s: socket()}, &accepted{s: socket()}
	tr.park(ino, li, a)
	tr.park(ino, li, b)
	if got := st.handoffs.unpark(ino); got != a {
		t.Fatalf("first unpark = %p, want the first parked %p", got, a)
	}
	if got := st.handoffs.unpark(ino); got != b {
		t.Fatalf("second unpark = %p, want %p", got, b)
	}
	if got := st.handoffs.unpark(ino); got != nil {
		t.Fatalf("third unpark = %p, want none", got)
	}
	unix.Close(a.s)
	unix.Close(b.s)
	if n := st.handoffs.nparked; n != 0 {
		t.Errorf("%d connections counted parked after every one was taken", n)
	}

	ho := newHandoff(nil, unix.AF_INET6, netip.AddrPort{})
	c := &accepted{s: socket(), ho: ho}
	tr.park(ino, li, c)
	select {
	case handed := <-ho.result:
		if handed {
			t.Error("a connection nobody took was reported handed over")
		}
	case <-time.After(parkWait + 5*time.Second):
		t.Fatal("a parked connection nobody took was never put back")
	}
	if st.handoffs.unpark(ino) != nil {
		t.Error("a connection put back can still be unparked")
	}
	pfd := []unix.PollFd{{Fd: int32(peer), Events: unix.POLLIN}}
	k, err := unix.Poll(pfd, 5000)
	for deadline := time.Now().Add(5 * time.Second); err == unix.EINTR && time.Now().Before(deadline); {
		k, err = unix.Poll(pfd, 5000) // the Go runtime's signals interrupt it
	}
	if err != nil || k != 1 || pfd[0].Revents&unix.POLLHUP == 0 {
		t.Errorf("the put-back connection's socket is still open (poll %d %v, revents %#x)", k, err, pfd[0].Revents)
	}
	if n := st.handoffs.nparked; n != 0 {
		t.Errorf("%d connections counted parked after the put-back", n)
	}
}
