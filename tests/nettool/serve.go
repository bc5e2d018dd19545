package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// clientTimeout bounds one TCP client: a client that neither sends nor
// closes must not hold its goroutine and descriptor for ever.
const clientTimeout = 10 * time.Second

// server answers clients and reports them.
type server struct {
	quiet bool
	limit int // exit after this many clients; 0: never
	// interrupt: with -block, how long after each accept a signal (with
	// SA_RESTART, as Go's handlers are) interrupts the accept that
	// waits; 0: never.
	interrupt time.Duration
	served    atomic.Int64
	out       sync.Mutex
}

// serve answers TCP connections or UDP datagrams on a port of every
// address until -n clients were served or a signal asks it to stop.
func serve(args []string) error {
	fs := newFlags("serve")
	s := &server{}
	fs.IntVar(&s.limit, "n", 0, "exit after this many clients")
	fs.BoolVar(&s.quiet, "quiet", false, `print only "served N" at exit`)
	block := fs.Bool("block", false, "tcp: accept with blocking accept(2) calls on a blocking socket")
	fs.DurationVar(&s.interrupt, "interrupt", 0, "with -block: this long after each accept, interrupt the next one with a signal")
	setuid := fs.Int("setuid", -1, "tcp: once listening, become this user and group (as nginx's workers do), which makes the process non-dumpable")
	pos, err := parseArgs(fs, args, "tcp|udp", "PORT")
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(pos[1], 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("serve: port %q, want 1-65535", pos[1])
	}
	if s.limit < 0 {
		return fmt.Errorf("serve: -n %d, want 0 or more", s.limit)
	}
	addr := ":" + pos[1]

	var closer io.Closer
	done := make(chan error, 1)
	switch pos[0] {
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		closer = l
		if *setuid >= 0 {
			if err := syscall.Setgid(*setuid); err != nil {
				return fmt.Errorf("setgid %d: %w", *setuid, err)
			}
			if err := syscall.Setuid(*setuid); err != nil {
				return fmt.Errorf("setuid %d: %w", *setuid, err)
			}
		}
		if *block {
			f, err := l.(*net.TCPListener).File()
			if err != nil {
				return err
			}
			closer = blockingCloser{f}
			l.Close()
			go func() { done <- s.serveTCPBlocking(f) }()
			break
		}
		go func() { done <- s.serveTCP(l) }()
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		closer = c
		go func() { done <- s.serveUDP(c) }()
	default:
		return fmt.Errorf("serve: network %q, want tcp or udp", pos[0])
	}

	// As PID 1 of a container nettool only gets the signals it handles;
	// handling SIGTERM lets `lodger stop` end it at once.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err = <-done:
	case <-sigs:
		closer.Close()
		<-done //nolint:errcheck // the loop's error is only the close above
	}
	if s.quiet {
		fmt.Printf("served %d\n", s.served.Load())
	}
	return err
}

// serveTCP answers each connection until the limit is reached or the
// listener is closed.
func (s *server) serveTCP(l net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	accepted := 0
	for s.limit == 0 || accepted < s.limit {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// EMFILE and the like: the test sees the failed clients.
			fmt.Fprintln(os.Stderr, "nettool: accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		accepted++
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.answerTCP(c)
		}()
	}
	return l.Close()
}

// serveTCPBlocking is serveTCP with the listening socket f blocking and
// accept(2) called directly, as a C server does; the greeting names the
// address accept returned.
func (s *server) serveTCPBlocking(f *os.File) error {
	fd := int(f.Fd()) // Fd makes the socket blocking
	var wg sync.WaitGroup
	defer wg.Wait()
	// The accepts run on this thread, which -interrupt signals.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), syscall.Gettid()
	for accepted := 0; s.limit == 0 || accepted < s.limit; {
		nfd, sa, err := syscall.Accept(fd)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
			continue
		}
		if err != nil {
			return nil // shut down by blockingCloser
		}
		accepted++
		if s.interrupt > 0 {
			// SIGURG: the Go runtime always handles it, with SA_RESTART.
			time.AfterFunc(s.interrupt, func() { _ = syscall.Tgkill(pid, tid, syscall.SIGURG) })
		}
		var peer netip.AddrPort
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			peer = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		case *syscall.SockaddrInet6:
			peer = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
		}
		c, err := net.FileConn(os.NewFile(uintptr(nfd), "client"))
		syscall.Close(nfd)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nettool: accepted:", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.answerTCPFrom(c, peer)
		}()
	}
	return nil
}

// blockingCloser ends a blocking accept: shutdown wakes it, where a close
// would not.
type blockingCloser struct{ f *os.File }

func (b blockingCloser) Close() error {
	return syscall.Shutdown(int(b.f.Fd()), syscall.SHUT_RDWR)
}

// answerTCP greets the client at once, then waits for it to finish
// sending and close: closing with unread data would reset the connection
// and could discard the greeting.
func (s *server) answerTCP(c net.Conn) {
	s.answerTCPFrom(c, unmapped(c.RemoteAddr().(*net.TCPAddr).AddrPort()))
}

// answerTCPFrom is answerTCP for a client at peer.
func (s *server) answerTCPFrom(c net.Conn, peer netip.AddrPort) {
	defer c.Close()
	s.report(peer)
	if err := c.SetDeadline(time.Now().Add(clientTimeout)); err != nil {
		return
	}
	if _, err := fmt.Fprintf(c, "hello %s\n", peer); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c) // drain until the client closes or the deadline passes
}

// serveUDP answers each datagram until the limit is reached or the socket
// is closed.
func (s *server) serveUDP(c net.PacketConn) error {
	uc := c.(*net.UDPConn)
	buf := make([]byte, 64<<10)
	for n := 0; s.limit == 0 || n < s.limit; n++ {
		_, from, err := uc.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		peer := unmapped(from)
		s.report(peer)
		if _, err := uc.WriteToUDPAddrPort([]byte("hello "+peer.String()+"\n"), from); err != nil {
			fmt.Fprintln(os.Stderr, "nettool: reply:", err)
		}
	}
	return c.Close()
}

// report counts a client and prints it unless quiet. Stdout is an
// unbuffered *os.File: each line is written when it happens.
func (s *server) report(peer netip.AddrPort) {
	s.served.Add(1)
	if s.quiet {
		return
	}
	s.out.Lock()
	fmt.Printf("client %s\n", peer)
	s.out.Unlock()
}

// unmapped shows an IPv4 client of a dual-stack socket as IPv4.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
