package netstack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// InterfaceName is the container's side of its TAP device, named as
// Docker names a container's interface.
const InterfaceName = "eth0"

// openTAP creates the container's interface as a TAP device in the network
// namespace of pid, addresses it, brings it up with a default route to the
// gateway, and returns the TAP's fd. The fd stays with the caller in the
// host's namespace; the device goes away with the container's namespace.
// With published TCP ports (publishTCP) it also prepares their kernel
// path (routeInbound); inbound says whether they can skip the stack.
func openTAP(pid int, c Config, publishTCP bool) (tap *os.File, inbound bool, err error) {
	err = inNetns(pid, func() error {
		var err error
		tap, err = createTAP(c)
		if err == nil && publishTCP {
			inbound = routeInbound(c) == nil
		}
		return err
	})
	return tap, inbound, err
}

// inNetns runs fn on a thread that has joined the network namespace of
// pid. A thread that cannot go back home is left locked, so that the
// runtime discards it.
func inNetns(pid int, fn func() error) error {
	runtime.LockOSThread()
	home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(home)
	target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("join the container's network namespace: %w", err)
	}
	fnErr := fn()
	if err := unix.Setns(home, unix.CLONE_NEWNET); err == nil {
		runtime.UnlockOSThread()
	}
	return fnErr
}

func createTAP(c Config) (*os.File, error) {
	tap, err := OpenTAP(InterfaceName)
	if err != nil {
		return nil, err
	}
	if err := configure(c); err != nil {
		tap.Close()
		return nil, err
	}
	return tap, nil
}

// OpenTAP creates the TAP device name in the calling thread's network
// namespace, with the virtio-net header and the offloads the stack's link
// expects, and returns its fd; a user network's gateway process enslaves
// it to the network's bridge.
func OpenTAP(name string) (*os.File, error) {
	// Non-blocking from the start: os.NewFile then puts it in the
	// runtime's poller, and Close stops a reader.
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w: the default network (netstack) needs read and write access to it (as root: chmod 0666 /dev/net/tun), or run with --network none", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, fmt.Errorf("create TAP device %s: %w", name, err)
	}
	// Frames whose checksum the container's kernel left to us, and TCP
	// segments of up to 64 KiB: see tapLink.
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6); err != nil {
		return nil, fmt.Errorf("set TAP offloads: %w", err)
	}
	ok = true
	return os.NewFile(uintptr(fd), "tap:"+name), nil
}

// configure addresses eth0 and routes through the gateway.
func configure(c Config) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, _ := unix.NewIfreq(InterfaceName)
	ifr.SetUint32(c.MTU)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return fmt.Errorf("set %s MTU %d: %w", InterfaceName, c.MTU, err)
	}
	// The stack knows this MAC as the container's, so never has to ask.
	hw := make([]byte, unix.IFNAMSIZ+16)
	copy(hw, InterfaceName)
	binary.NativeEndian.PutUint16(hw[unix.IFNAMSIZ:], unix.ARPHRD_ETHER)
	copy(hw[unix.IFNAMSIZ+2:], guestMAC)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(s), unix.SIOCSIFHWADDR, uintptr(unsafe.Pointer(&hw[0]))); errno != 0 {
		return fmt.Errorf("set %s MAC: %w", InterfaceName, errno)
	}
	if c.IPv6 {
		// Duplicate address detection would hold the address back for a
		// second or more; nothing else is on this link.
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+InterfaceName+"/accept_dad", []byte("0"), 0); err != nil {
			return fmt.Errorf("turn off duplicate address detection: %w", err)
		}
	}
	ifr, _ = unix.NewIfreq(InterfaceName)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up %s: %w", InterfaceName, err)
	}
	iface, err := netInterfaceIndex(s)
	if err != nil {
		return err
	}
	nl, err := newNetlink()
	if err != nil {
		return err
	}
	defer nl.close()
	if err := nl.addAddress(iface, netip.PrefixFrom(Guest, Subnet.Bits())); err != nil {
		return fmt.Errorf("address %s: %w", InterfaceName, err)
	}
	if err := nl.addDefaultRoute(iface, Gateway); err != nil {
		return fmt.Errorf("route through %s: %w", Gateway, err)
	}
	if c.IPv6 {
		if err := nl.addAddress(iface, netip.PrefixFrom(Guest6, Subnet6.Bits())); err != nil {
			return fmt.Errorf("address %s: %w", InterfaceName, err)
		}
		if err := nl.addDefaultRoute(iface, Gateway6); err != nil {
			return fmt.Errorf("route through %s: %w", Gateway6, err)
		}
	}
	return nil
}

func netInterfaceIndex(s int) (uint32, error) {
	ifr, _ := unix.NewIfreq(InterfaceName)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("index of %s: %w", InterfaceName, err)
	}
	return ifr.Uint32(), nil
}

// netlinkConn is just enough rtnetlink for an address and a route.
type netlinkConn struct {
	fd  int
	seq uint32
}

func newNetlink() (*netlinkConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &netlinkConn{fd: fd}, nil
}

func (n *netlinkConn) close() { unix.Close(n.fd) }

func rtattr(typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b := make([]byte, (l+unix.RTA_ALIGNTO-1) & ^(unix.RTA_ALIGNTO-1))
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func (n *netlinkConn) addAddress(index uint32, p netip.Prefix) error {
	msg := unix.IfAddrmsg{Family: family(p.Addr()), Prefixlen: uint8(p.Bits()), Index: index}
	if p.Addr().Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	body := (*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&msg))[:]
	a := p.Addr().AsSlice()
	body = append(body, rtattr(unix.IFA_LOCAL, a)...)
	body = append(body, rtattr(unix.IFA_ADDRESS, a)...)
	return n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

func (n *netlinkConn) addDefaultRoute(index uint32, gw netip.Addr) error {
	msg := unix.RtMsg{
		Family:   family(gw),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	}
	body := (*[unix.SizeofRtMsg]byte)(unsafe.Pointer(&msg))[:]
	body = append(body, rtattr(unix.RTA_GATEWAY, gw.AsSlice())...)
	var idx [4]byte
	binary.NativeEndian.PutUint32(idx[:], index)
	body = append(body, rtattr(unix.RTA_OIF, idx[:])...)
	return n.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// request sends one message and reads its acknowledgement.
func (n *netlinkConn) request(typ uint16, flags uint16, body []byte) error {
	n.seq++
	h := unix.NlMsghdr{
		Len:   uint32(unix.SizeofNlMsghdr + len(body)),
		Type:  typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags,
		Seq:   n.seq,
	}
	msg := append((*[unix.SizeofNlMsghdr]byte)(unsafe.Pointer(&h))[:], body...)
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		nr, _, err := unix.Recvfrom(n.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != n.seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("short netlink reply")
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
}
