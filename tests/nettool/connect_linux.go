package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// connect is one TCP connect(2) made by hand, blocking or not, as C
// programs make it (Go's own dial is always non-blocking). It prints
// "local IP:PORT" (getsockname after the connect: a host address when
// lodger handed the container a host socket), then the server's reply
// line; a failed connect prints "errno NAME" and exits 1.
func connect(args []string) error {
	fs := newFlags("connect")
	block := fs.Bool("block", false, "blocking connect")
	setOpts := fs.Bool("setopts", false, "set TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE=77 before connecting")
	noCloexec := fs.Bool("nocloexec", false, "a socket without close-on-exec")
	timeout := fs.Duration("timeout", 5*time.Second, "for connecting and the reply together")
	pos, err := parseArgs(fs, args, "IP:PORT")
	if err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(pos[0])
	if err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
	if ap.Addr().Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	typ := unix.SOCK_STREAM
	if !*noCloexec {
		typ |= unix.SOCK_CLOEXEC
	}
	if !*block {
		typ |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if *setOpts {
		for _, o := range [][3]int{{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1}, {unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 77}} {
			if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
				return err
			}
		}
	}
	err = unix.Connect(fd, sa)
	if errors.Is(err, unix.EINPROGRESS) && !*block {
		err = waitFD(fd, unix.POLLOUT, deadline)
		if err == nil {
			var v int
			if v, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && v != 0 {
				err = unix.Errno(v)
			}
		}
	}
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			fmt.Println("errno", unix.ErrnoName(errno))
		}
		return fmt.Errorf("connect %s: %w", ap, err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	fmt.Println("local", sockaddrString(local))
	// What the socket is now, whichever socket it is.
	fdFlags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	flFlags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	nodelay, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	keepalive, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	keepidle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	fmt.Printf("socket cloexec=%v nonblock=%v nodelay=%d keepalive=%d keepidle=%d\n",
		fdFlags&unix.FD_CLOEXEC != 0, flFlags&unix.O_NONBLOCK != 0, nodelay, keepalive, keepidle)
	if _, err := unix.Write(fd, []byte(request)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	var reply []byte
	buf := make([]byte, 512)
	for !strings.Contains(string(reply), "\n") {
		if !*block {
			if err := waitFD(fd, unix.POLLIN, deadline); err != nil {
				return err
			}
		}
		n, err := unix.Read(fd, buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			break
		}
		reply = append(reply, buf[:n]...)
	}
	os.Stdout.Write(reply)
	return nil
}

func waitFD(fd int, events int16, deadline time.Time) error {
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return errors.New("timed out")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(pfd, ms)
		if err == nil && n > 0 {
			return nil
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return fmt.Sprint(sa)
}
