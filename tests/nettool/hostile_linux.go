package main

// hostile is the attacker of issue 12's third finding: a container that
// makes its monitor spend threads, descriptors and goroutines on its
// behalf. With the accept bypass every accept(2) of the container is
// trapped and served by its monitor, so the program holds thousands of
// blocking accepts on many listening sockets at once, and on a few more
// it accepts while another thread clears and sets O_NONBLOCK as fast as
// it can (a monitor that reads the flag and then accepts on the
// container's socket would block in the kernel). With -connect, as many
// threads as asked connect, blocking, to an address that never answers,
// for the connect bypass. Meanwhile it serves
// hello on its published port, whose clients must still be answered.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func hostile(args []string) error {
	fs := newFlags("hostile")
	listeners := fs.Int("listeners", 40, "listening sockets the blocking accepts wait on")
	threads := fs.Int("threads", 2000, "threads, each blocking in accept(2) on one of the listeners")
	flipped := fs.Int("flipped", 4, "listening sockets whose O_NONBLOCK a thread flips while 4 threads each accept on them")
	after := fs.Duration("after", 0, "serve hello alone this long before the attack")
	connectTo := fs.String("connect", "", "IP:PORT that never answers: -connects threads each connect to it, blocking, in a loop")
	connects := fs.Int("connects", 0, "threads connecting to -connect")
	pos, err := parseArgs(fs, args, "PORT")
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(pos[0], 10, 16); err != nil {
		return fmt.Errorf("hostile: port %q, want 1-65535", pos[0])
	}
	if *listeners < 1 || *threads < 0 || *flipped < 0 {
		return errors.New("hostile: -listeners must be positive, -threads and -flipped not negative")
	}
	served := make(chan error, 1)
	go func() { served <- serve([]string{"tcp", pos[0], "-quiet"}) }()
	select {
	case err := <-served:
		return err
	case <-time.After(*after):
	}
	fmt.Println("attacking")
	// Each blocked call holds a thread of this process too.
	debug.SetMaxThreads(*threads + 4*(*flipped) + *connects + 1000)
	if *connects > 0 {
		dst, err := netip.ParseAddrPort(*connectTo)
		if err != nil || !dst.Addr().Is4() {
			return fmt.Errorf("hostile: -connect %q, want IPv4:PORT", *connectTo)
		}
		for range *connects {
			go func() {
				runtime.LockOSThread()
				for {
					s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
					if err != nil {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					_ = unix.Connect(s, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())})
					unix.Close(s)
				}
			}()
		}
	}

	blocking, err := listenMany(*listeners)
	if err != nil {
		return err
	}
	flips, err := listenMany(*flipped)
	if err != nil {
		return err
	}
	var accepted atomic.Int64
	acceptOn := func(fd int) {
		runtime.LockOSThread()
		for {
			nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
			switch errno {
			case 0:
				accepted.Add(1)
				unix.Close(int(nfd))
			case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
				time.Sleep(100 * time.Microsecond)
			default:
				fmt.Fprintln(os.Stderr, "nettool: hostile accept:", errno)
				return
			}
		}
	}
	for i := range *threads {
		go acceptOn(blocking[i%len(blocking)].fd)
	}
	for _, l := range flips {
		for range 4 {
			go acceptOn(l.fd)
		}
		go func() {
			runtime.LockOSThread()
			for {
				_, _ = unix.FcntlInt(uintptr(l.fd), unix.F_SETFL, unix.O_NONBLOCK)
				_, _ = unix.FcntlInt(uintptr(l.fd), unix.F_SETFL, 0)
			}
		}()
	}
	// Clients of its own release an accept now and then, which then
	// comes back as a new trapped call.
	go func() {
		all := slices.Concat(blocking, flips)
		for i := 0; ; i++ {
			time.Sleep(5 * time.Millisecond)
			s, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
			if err != nil {
				continue
			}
			_ = unix.Connect(s, &unix.SockaddrInet6{Addr: [16]byte{15: 1}, Port: all[i%len(all)].port})
			time.Sleep(time.Millisecond)
			unix.Close(s)
		}
	}()
	time.Sleep(2 * time.Second)
	fmt.Printf("holding %d blocking accepts on %d listeners, %d flipped, %d blocking connects\n", *threads, *listeners, *flipped, *connects)
	go func() {
		for range time.Tick(5 * time.Second) {
			fmt.Printf("accepted %d\n", accepted.Load())
		}
	}()
	return <-served
}

type hostileListener struct{ fd, port int }

// listenMany opens n blocking dual-stack listening sockets on ports the
// kernel picks.
func listenMany(n int) ([]hostileListener, error) {
	ls := make([]hostileListener, n)
	for i := range ls {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet6{}); err != nil {
			return nil, fmt.Errorf("bind: %w", err)
		}
		if err := unix.Listen(fd, 64); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return nil, err
		}
		ls[i] = hostileListener{fd, sa.(*unix.SockaddrInet6).Port}
	}
	return ls, nil
}
