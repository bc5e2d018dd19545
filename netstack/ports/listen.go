package ports

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// unprivilegedPortStartPath is the sysctl below which binding a port needs
// CAP_NET_BIND_SERVICE; a variable so tests can point it at a file of their
// own.
var unprivilegedPortStartPath = "/proc/sys/net/ipv4/ip_unprivileged_port_start"

// canBindPrivileged reports whether this process may bind ports below the
// sysctl; a variable so tests run as root can play an ordinary user.
var canBindPrivileged = hasNetBindService

// Listener is the host side of one published port: a TCP listener or a UDP
// socket, whichever Mapping.Protocol names.
type Listener struct {
	// Mapping is the mapping listened for, with HostPort set to the port
	// actually bound and HostPortEnd cleared.
	Mapping Mapping
	TCP     *net.TCPListener
	UDP     *net.UDPConn
}

// Close closes the listener's socket.
func (l Listener) Close() error {
	switch {
	case l.TCP != nil:
		return l.TCP.Close()
	case l.UDP != nil:
		return l.UDP.Close()
	}
	return nil
}

// Listen binds a host socket for each mapping, in order. It checks what it
// can before binding so that a mistake gets an error saying what to change,
// and it is all or nothing: on error, every socket it opened is closed.
func Listen(ms []Mapping) (_ []Listener, err error) {
	if err := Validate(ms); err != nil {
		return nil, err
	}
	var ls []Listener
	defer func() {
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
		}
	}()
	var local []netip.Addr
	for _, m := range ms {
		if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() && !m.HostIP.IsLoopback() && local == nil {
			if local, err = localAddrs(); err != nil {
				return nil, err
			}
		}
	}
	start := unprivilegedPortStart()
	privileged := canBindPrivileged()
	for _, m := range ms {
		if err := checkHostIP(m, local); err != nil {
			return nil, err
		}
		if m.HostPort != 0 && int(m.HostPort) < start && !privileged {
			return nil, privilegedError(m, start, nil)
		}
		l, err := listen(m, start)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func localAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

func checkHostIP(m Mapping, local []netip.Addr) error {
	ip := m.HostIP
	// All of 127.0.0.0/8 is local on Linux though only 127.0.0.1 is listed.
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() {
		return nil
	}
	for _, a := range local {
		if a.WithZone("") == ip {
			return nil
		}
	}
	return fmt.Errorf("host IP %s in -p %s is not an address of this machine: give one of its addresses, or no IP to listen on all of them", ip, m.spec())
}

// unprivilegedPortStart reads the sysctl, or returns -1 if it cannot, as on
// kernels before 4.11 or other systems; binding then tells.
func unprivilegedPortStart() int {
	b, err := os.ReadFile(unprivilegedPortStartPath)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// privilegedError explains a host port that needs privileges. err is the
// bind error when the kernel refused it, nil when Listen saw it coming.
func privilegedError(m Mapping, start int, err error) error {
	// Suggest the port people expect, 8080 for 80, when it is allowed.
	alt := int(m.HostPort) + 8000
	if alt > 65535 || alt < start {
		alt = max(start, 1024)
	}
	msg := fmt.Sprintf("host port %d/%s in -p %s is privileged", m.HostPort, m.Protocol, m.spec())
	if start >= 0 {
		msg += fmt.Sprintf(": it is below sysctl net.ipv4.ip_unprivileged_port_start=%d", start)
	}
	msg += fmt.Sprintf(" and lodger lacks CAP_NET_BIND_SERVICE; publish a higher port, such as -p %d:%d, or lower the sysctl", alt, m.ContainerPort)
	if err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return errors.New(msg)
}

func listen(m Mapping, start int) (Listener, error) {
	first, last := m.HostPort, m.HostPort
	if m.HostPortEnd > m.HostPort {
		last = m.HostPortEnd
	}
	var err error
	for p := int(first); p <= int(last); p++ {
		var l Listener
		l, err = bind(m, uint16(p))
		if err == nil {
			return l, nil
		}
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			continue
		case errors.Is(err, syscall.EACCES) && p != 0:
			m.HostPort = uint16(p)
			return Listener{}, privilegedError(m, start, err)
		default:
			return Listener{}, fmt.Errorf("publish %s: %w", m.spec(), err)
		}
	}
	if first != last {
		return Listener{}, fmt.Errorf("host ports %d-%d/%s are all in use: give another range, or -p %d for any free port: %w", first, last, m.Protocol, m.ContainerPort, err)
	}
	return Listener{}, fmt.Errorf("host port %d/%s is already in use: pick another with -p HOSTPORT:%d, or -p %d for any free port: %w", first, m.Protocol, m.ContainerPort, m.ContainerPort, err)
}

func bind(m Mapping, port uint16) (Listener, error) {
	var ip net.IP
	if m.HostIP.IsValid() {
		ip = m.HostIP.AsSlice()
	}
	l := Listener{Mapping: m}
	l.Mapping.HostPortEnd = 0
	switch m.Protocol {
	case "tcp":
		tl, err := net.ListenTCP(m.network(), &net.TCPAddr{IP: ip, Port: int(port)})
		if err != nil {
			return Listener{}, err
		}
		l.TCP = tl
		l.Mapping.HostPort = uint16(tl.Addr().(*net.TCPAddr).Port)
	case "udp":
		uc, err := net.ListenUDP(m.network(), &net.UDPAddr{IP: ip, Port: int(port)})
		if err != nil {
			return Listener{}, err
		}
		l.UDP = uc
		l.Mapping.HostPort = uint16(uc.LocalAddr().(*net.UDPAddr).Port)
	default:
		return Listener{}, fmt.Errorf("protocol %q, want tcp or udp", m.Protocol)
	}
	return l, nil
}
