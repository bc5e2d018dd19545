package main

// probe is the attacker of issue 12's first finding: a container that was
// given a TCP socket by lodger (a connected one, or one its server
// accepted from a published port) tries to re-aim it at what its network
// must never reach: the host's loopback, the host's ports and interfaces.
// It reports what each attempt got; the tests decide what is allowed.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probeAttacks are the attempts, in the order they are made. Each gets a
// socket of its own.
var probeAttacks = []string{"local", "ifconf", "reconnect", "reconnect-dup", "reconnect-v4mapped", "fastopen-sendto", "fastopen-sendmsg", "bindtodevice", "io_uring", "bind"}

// probe obtains a socket per attack, by connecting to FIRST or, with
// -accept PORT, by accepting on PORT (dual-stack, so that accepted
// sockets are AF_INET6), and tries to reach SECRET with it. It prints a
// line per attack: "ATTACK reached REPLY", "ATTACK refused ERRNO" or
// "ATTACK info ...". With -sendfd PATH it instead hands its first socket
// to whoever connects to the unix socket PATH; with -recvfd PATH it takes
// one from there and makes the reconnect attack with it.
func probe(args []string) error {
	fs := newFlags("probe")
	acceptPort := fs.Int("accept", 0, "obtain sockets by accepting on this port")
	timeout := fs.Duration("timeout", 3*time.Second, "for each connect and reply")
	bindPort := fs.Int("bindport", 0, "the bind attack binds and listens on this port, then holds the socket for -hold")
	hold := fs.Duration("hold", 0, "how long the bind attack holds its listening socket")
	hostIf := fs.String("hostif", "", "comma-separated host interface names the container has no interface of")
	sendFD := fs.String("sendfd", "", "hand the first socket over the unix socket PATH and exit")
	recvFD := fs.String("recvfd", "", "take a socket from the unix socket PATH and reconnect it to SECRET")
	only := fs.String("only", "", "comma-separated attacks to make (default: all)")
	pos, err := parseArgs(fs, args, "FIRST", "SECRET")
	if err != nil {
		return err
	}
	first, err := netip.ParseAddrPort(pos[0])
	if err != nil {
		return err
	}
	secret, err := netip.ParseAddrPort(pos[1])
	if err != nil {
		return err
	}
	p := &prober{first: first, secret: secret, timeout: *timeout}
	if *recvFD != "" {
		fd, err := receiveFD(*recvFD)
		if err != nil {
			return err
		}
		fmt.Printf("received %s\n", localOf(fd))
		p.reconnect("recvfd", fd, secret)
		return nil
	}
	if *acceptPort != 0 {
		if p.listener, err = listenDual(*acceptPort); err != nil {
			return err
		}
		fmt.Println("listening")
	}
	if *sendFD != "" {
		fd, err := p.obtain()
		if err != nil {
			return err
		}
		fmt.Printf("obtained %s\n", localOf(fd))
		return sendFDTo(*sendFD, fd)
	}
	attacks := probeAttacks
	if *only != "" {
		attacks = strings.Split(*only, ",")
	}
	for _, a := range attacks {
		fd, err := p.obtain()
		if err != nil {
			fmt.Printf("%s error obtaining a socket: %v\n", a, err)
			continue
		}
		switch a {
		case "local":
			fmt.Printf("local info %s\n", localOf(fd))
		case "ifconf":
			fmt.Printf("ifconf info %s\n", ifconf(fd))
		case "reconnect":
			p.reconnect(a, fd, secret)
		case "reconnect-dup":
			dup, err := unix.Dup(fd)
			if err != nil {
				fmt.Printf("%s error %v\n", a, err)
				break
			}
			p.reconnect(a, dup, secret)
			unix.Close(dup)
		case "reconnect-v4mapped":
			if sa, err := unix.Getsockname(fd); err == nil {
				if _, ok := sa.(*unix.SockaddrInet6); !ok {
					fmt.Printf("%s info not an AF_INET6 socket\n", a)
					break
				}
			}
			p.reconnect(a, fd, netip.AddrPortFrom(netip.AddrFrom16(secret.Addr().As16()), secret.Port()))
		case "fastopen-sendto", "fastopen-sendmsg":
			p.fastOpen(a, fd, secret)
		case "bindtodevice":
			for _, name := range strings.Split(*hostIf, ",") {
				if name == "" {
					continue
				}
				if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name); err != nil {
					fmt.Printf("%s refused %s %s\n", a, name, errnoName(err))
				} else {
					fmt.Printf("%s reached %s\n", a, name)
				}
			}
		case "io_uring":
			ioURing(a)
		case "bind":
			p.bind(a, fd, *bindPort, *hold)
		default:
			fmt.Printf("%s error unknown attack\n", a)
		}
		unix.Close(fd)
	}
	fmt.Println("done")
	return nil
}

type prober struct {
	first, secret netip.AddrPort
	timeout       time.Duration
	listener      int // with -accept; 0 otherwise
}

// obtain returns a socket lodger may have given the container: one
// connected to FIRST by a plain blocking connect(2), or one accepted by a
// plain blocking accept(2).
func (p *prober) obtain() (int, error) {
	if p.listener != 0 {
		fd, _, err := unix.Accept(p.listener)
		return fd, err
	}
	fd, err := socketFor(p.first.Addr())
	if err != nil {
		return -1, err
	}
	if err := setTimeouts(fd, p.timeout); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Connect(fd, sockaddrOf(p.first)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", p.first, err)
	}
	return fd, nil
}

// disconnect is connect(fd, {AF_UNSPEC}): a TCP socket forgets its peer.
func disconnect(fd int) error {
	var sa [16]byte // sa_family_t 0 = AF_UNSPEC
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
	if errno != 0 {
		return errno
	}
	return nil
}

// reconnect disconnects fd and connects it to target.
func (p *prober) reconnect(name string, fd int, target netip.AddrPort) {
	if err := disconnect(fd); err != nil {
		fmt.Printf("%s info disconnect %s\n", name, errnoName(err))
	}
	if err := setTimeouts(fd, p.timeout); err != nil {
		fmt.Printf("%s info setsockopt %s\n", name, errnoName(err))
	}
	if err := unix.Connect(fd, sockaddrOf(target)); err != nil {
		fmt.Printf("%s refused %s\n", name, errnoName(err))
		return
	}
	p.report(name, fd)
}

// fastOpen disconnects fd and sends to target with MSG_FASTOPEN, which
// connects as it sends.
func (p *prober) fastOpen(name string, fd int, target netip.AddrPort) {
	if err := disconnect(fd); err != nil {
		fmt.Printf("%s info disconnect %s\n", name, errnoName(err))
	}
	if err := setTimeouts(fd, p.timeout); err != nil {
		fmt.Printf("%s info setsockopt %s\n", name, errnoName(err))
	}
	msg := []byte("hello\n")
	var err error
	if name == "fastopen-sendto" {
		err = unix.Sendto(fd, msg, unix.MSG_FASTOPEN, sockaddrOf(target))
	} else {
		_, err = unix.SendmsgN(fd, msg, nil, sockaddrOf(target), unix.MSG_FASTOPEN)
	}
	if err != nil {
		fmt.Printf("%s refused %s\n", name, errnoName(err))
		return
	}
	p.report(name, fd)
}

// report reads the reply of whatever fd reached: the tests' servers greet
// at once.
func (p *prober) report(name string, fd int) {
	buf := make([]byte, 256)
	n, err := unix.Read(fd, buf)
	if err != nil || n <= 0 {
		fmt.Printf("%s reached (connected, no reply: %v)\n", name, err)
		return
	}
	fmt.Printf("%s reached %s\n", name, strings.TrimSpace(string(buf[:n])))
}

// bind disconnects fd, binds it to port on every address and listens,
// then holds it so that the tests can look from the host.
func (p *prober) bind(name string, fd, port int, hold time.Duration) {
	if err := disconnect(fd); err != nil {
		fmt.Printf("%s info disconnect %s\n", name, errnoName(err))
	}
	sa, _ := unix.Getsockname(fd)
	var bsa unix.Sockaddr = &unix.SockaddrInet4{Port: port}
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		bsa = &unix.SockaddrInet6{Port: port}
	}
	if err := unix.Bind(fd, bsa); err != nil {
		fmt.Printf("%s refused %s\n", name, errnoName(err))
		return
	}
	if err := unix.Listen(fd, 1); err != nil {
		fmt.Printf("%s bound, listen %s\n", name, errnoName(err))
	} else {
		fmt.Printf("%s listening %d\n", name, port)
	}
	time.Sleep(hold)
}

// ioURing asks for an io_uring, whose operations no seccomp filter sees.
func ioURing(name string) {
	var params [120]byte // struct io_uring_params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		fmt.Printf("%s refused %s\n", name, errnoName(errno))
		return
	}
	unix.Close(int(fd))
	fmt.Printf("%s reached io_uring_setup\n", name)
}

// ifconf lists the addresses SIOCGIFCONF gives on fd: those of the
// network namespace the socket belongs to.
func ifconf(fd int) string {
	const ifreqSize = 40 // struct ifreq on 64-bit Linux
	buf := make([]byte, 64*ifreqSize)
	var conf struct {
		len int32
		_   int32
		buf uintptr
	}
	conf.len = int32(len(buf))
	conf.buf = uintptr(unsafe.Pointer(&buf[0]))
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFCONF, uintptr(unsafe.Pointer(&conf))); errno != 0 {
		return "error " + errnoName(errno)
	}
	var out []string
	for off := 0; off+ifreqSize <= int(conf.len); off += ifreqSize {
		r := buf[off : off+ifreqSize]
		name := strings.TrimRight(string(r[:16]), "\x00")
		if binary.NativeEndian.Uint16(r[16:18]) == unix.AF_INET {
			out = append(out, name+"="+netip.AddrFrom4([4]byte(r[20:24])).String())
		}
	}
	return strings.Join(out, " ")
}

func listenDual(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Dual-stack: the probe must see IPv4 clients on this socket too.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: port}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func socketFor(a netip.Addr) (int, error) {
	family := unix.AF_INET6
	if a.Is4() {
		family = unix.AF_INET
	}
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

func sockaddrOf(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

// setTimeouts bounds a blocking connect (SO_SNDTIMEO) and read
// (SO_RCVTIMEO) on fd.
func setTimeouts(fd int, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return err
	}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

func localOf(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "error " + errnoName(err)
	}
	return sockaddrString(sa)
}

func errnoName(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return "errno" + strconv.Itoa(int(errno))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// sendFDTo serves the unix socket path once: whoever connects gets fd.
func sendFDTo(path string, fd int) error {
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	os.Remove(path)
	if err := unix.Bind(l, &unix.SockaddrUnix{Name: path}); err != nil {
		return err
	}
	if err := unix.Listen(l, 1); err != nil {
		return err
	}
	fmt.Println("waiting")
	c, _, err := unix.Accept(l)
	if err != nil {
		return err
	}
	defer unix.Close(c)
	if err := unix.Sendmsg(c, []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		return err
	}
	fmt.Println("sent")
	// Hold our copy until the receiver is done with its own.
	b := make([]byte, 1)
	_, _ = unix.Read(c, b) // any return, EOF or error, means the receiver is done
	return nil
}

// receiveFD takes one descriptor from the unix socket path.
func receiveFD(path string) (int, error) {
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: path}); err != nil {
		return -1, err
	}
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(c, make([]byte, 1), oob, 0)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("no descriptor received (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("no descriptor received (%v)", err)
	}
	return fds[0], nil
}
