package netstack

import (
	"net/netip"
	"os"
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
			errno := writeSockaddr(os.Getpid(), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&addrLen)), tc.family, client)
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
	key := netip.MustParseAddrPort("192.0.2.7:4321")
	newHandoff := func() *handoff {
		ho := &handoff{claimed: make(chan struct{}), result: make(chan bool, 1)}
		hs.add(key, ho)
		return ho
	}
	ho := newHandoff()
	if ho.settle(time.Millisecond) {
		t.Error("unclaimed handoff settled as handed over")
	}
	if hs.claim(key) != nil {
		t.Error("spliced handoff claimed")
	}
	hs.remove(ho)

	for _, handed := range []bool{true, false} {
		ho := newHandoff()
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
// it again.
func TestMayAccept(t *testing.T) {
	var hs handoffs
	const port = 8080
	if !hs.mayAccept(port) {
		t.Error("a port never seen does not wait: an epoll server's first client would be spliced")
	}
	hs.sawAccept(port, false)
	if hs.mayAccept(port) {
		t.Error("a port whose client waited in vain still waits")
	}
	if !hs.mayAccept(port + 1) {
		t.Error("another port's miss stops this one waiting")
	}
	hs.sawAccept(port, true)
	if !hs.mayAccept(port) {
		t.Error("a port with a trapped accept seen does not wait")
	}
}

// TestParkedConnections: connections parked on a listener are taken in
// order, each once; one nobody takes within parkWait is put back (here,
// with no namespace to put it back into, closed) and its claimed host
// socket returned to dialIn.
func TestParkedConnections(t *testing.T) {
	st := &Stack{}
	tr := &connectTrap{st: st}
	const ino = 42
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
	a, b := &parkedConn{s: socket()}, &parkedConn{s: socket()}
	tr.park(ino, a)
	tr.park(ino, b)
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
	if n := len(st.handoffs.listeners); n != 0 {
		t.Errorf("%d listener locks left after every parked connection was taken", n)
	}

	ho := &handoff{claimed: make(chan struct{}), result: make(chan bool, 1)}
	c := &parkedConn{s: socket(), ho: ho}
	tr.park(ino, c)
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
	if n := len(st.handoffs.listeners); n != 0 {
		t.Errorf("%d listener locks left after the put-back", n)
	}
}
