// Package ports publishes container ports on the host: it parses Docker's
// -p and -P forms into Mappings and opens the host-side listeners that the
// network stack forwards into the container.
package ports

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Syntax is the accepted form of a -p value, quoted in parse errors.
const Syntax = "[IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], where ports may be ranges such as 8000-8010 and an IPv6 address is written in brackets, as in [::1]:8080:80"

// Mapping publishes one container port on the host.
type Mapping struct {
	// HostIP is the host address to listen on; the zero Addr means all
	// addresses (0.0.0.0 and ::).
	HostIP netip.Addr `json:"hostIP,omitzero"`
	// HostPort is the host port; 0 asks Listen for an ephemeral port.
	HostPort uint16 `json:"hostPort"`
	// HostPortEnd, when set, makes HostPort..HostPortEnd a range that Listen
	// picks the first free port from, as Docker does for -p 8000-8010:80.
	HostPortEnd   uint16 `json:"hostPortEnd,omitempty"`
	ContainerPort uint16 `json:"containerPort"`
	// Protocol is "tcp" or "udp".
	Protocol string `json:"protocol"`
}

// String renders m as a line of `docker port` output, such as
// "80/tcp -> 0.0.0.0:8080". All addresses show as 0.0.0.0, as Docker does
// for IPv4; the listener behind it accepts IPv6 too.
func (m Mapping) String() string {
	return fmt.Sprintf("%d/%s -> %s", m.ContainerPort, m.Protocol, m.Host())
}

// Host is the host side of m as `docker port CTR PORT` prints it, such as
// "0.0.0.0:8080".
func (m Mapping) Host() string {
	ip := m.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	host := netip.AddrPortFrom(ip, m.HostPort).String()
	if m.HostPortEnd > m.HostPort {
		host += "-" + strconv.Itoa(int(m.HostPortEnd))
	}
	return host
}

// spec renders m back as a -p value, to name it in errors.
func (m Mapping) spec() string {
	var b strings.Builder
	if m.HostIP.IsValid() {
		if m.HostIP.Is6() {
			b.WriteString("[" + m.HostIP.String() + "]:")
		} else {
			b.WriteString(m.HostIP.String() + ":")
		}
	}
	if m.HostPort != 0 {
		b.WriteString(strconv.Itoa(int(m.HostPort)))
		if m.HostPortEnd > m.HostPort {
			b.WriteString("-" + strconv.Itoa(int(m.HostPortEnd)))
		}
		b.WriteString(":")
	} else if m.HostIP.IsValid() {
		b.WriteString(":")
	}
	fmt.Fprintf(&b, "%d/%s", m.ContainerPort, m.Protocol)
	return b.String()
}

// Parse parses -p values. It follows Docker's rules: a container port range
// needs a host range of the same length, a host range with a single
// container port lets Listen pick a free host port from the range, and an
// omitted host port (80, or 127.0.0.1::80) is an ephemeral one.
func Parse(specs []string) ([]Mapping, error) {
	var ms []Mapping
	for _, s := range specs {
		m, err := parseSpec(s)
		if err != nil {
			return nil, fmt.Errorf("parse -p %q: %w; want %s", s, err, Syntax)
		}
		ms = append(ms, m...)
	}
	if err := Validate(ms); err != nil {
		return nil, err
	}
	return ms, nil
}

func parseSpec(s string) ([]Mapping, error) {
	ipPart, hostPart, ctrPart := split(s)
	ctrPart, proto, err := splitProto(ctrPart)
	if err != nil {
		return nil, err
	}
	if ctrPart == "" {
		return nil, errors.New("no container port")
	}
	var ip netip.Addr
	if ipPart != "" {
		raw := ipPart
		if strings.HasPrefix(raw, "[") {
			if !strings.HasSuffix(raw, "]") {
				return nil, fmt.Errorf("unclosed bracket in IP %s", ipPart)
			}
			raw = raw[1 : len(raw)-1]
		}
		ip, err = netip.ParseAddr(raw)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("invalid IP address %s", ipPart)
		}
		ip = ip.Unmap()
	}
	ctrStart, ctrEnd, err := parseRange(ctrPart)
	if err != nil {
		return nil, fmt.Errorf("container port: %w", err)
	}
	if ctrStart == 0 {
		return nil, errors.New("container port 0")
	}
	var hostStart, hostEnd uint16
	if hostPart != "" {
		hostStart, hostEnd, err = parseRange(hostPart)
		if err != nil {
			return nil, fmt.Errorf("host port: %w", err)
		}
		if hostStart == 0 && hostEnd != 0 {
			return nil, errors.New("host port range starting at 0")
		}
		if ctrEnd != ctrStart && hostEnd-hostStart != ctrEnd-ctrStart {
			return nil, fmt.Errorf("host range %s and container range %s differ in length", hostPart, ctrPart)
		}
	}
	n := int(ctrEnd-ctrStart) + 1
	ms := make([]Mapping, 0, n)
	for i := range n {
		m := Mapping{HostIP: ip, ContainerPort: ctrStart + uint16(i), Protocol: proto}
		switch {
		case hostPart == "" || hostStart == 0:
			// Ephemeral.
		case n == 1 && hostEnd != hostStart:
			m.HostPort, m.HostPortEnd = hostStart, hostEnd
		default:
			m.HostPort = hostStart + uint16(i)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// split cuts a -p value into IP, host port and container port at its last
// two colons, so that an unbracketed IPv6 address still parses as Docker's
// does.
func split(s string) (ip, host, ctr string) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", s
	}
	ctr = s[i+1:]
	rest := s[:i]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return "", rest, ctr
	}
	return rest[:j], rest[j+1:], ctr
}

func splitProto(s string) (port, proto string, err error) {
	port, proto, found := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	switch {
	case !found || proto == "":
		return port, "tcp", nil
	case proto == "tcp" || proto == "udp":
		return port, proto, nil
	default:
		return "", "", fmt.Errorf("unsupported protocol %q, want tcp or udp", proto)
	}
}

func parseRange(s string) (start, end uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	start, err = parsePort(lo)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	end, err = parsePort(hi)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("range %s ends before it starts", s)
	}
	return start, end, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid port %q, want a number from 0 to 65535", s)
	}
	return uint16(n), nil
}

// Exposed turns an image's ExposedPorts ("80/tcp", "53/udp", "8080") into
// mappings to ephemeral host ports, for -P. The result is sorted so the
// ports a container gets do not depend on map order.
func Exposed(exposed map[string]struct{}) ([]Mapping, error) {
	ms := make([]Mapping, 0, len(exposed))
	for k := range exposed {
		portPart, proto, err := splitProto(k)
		if err != nil {
			return nil, fmt.Errorf("parse exposed port %q: %w", k, err)
		}
		// Images may expose ranges ("8000-8002/tcp"); -P publishes each.
		start, end, err := parseRange(portPart)
		if err != nil || start == 0 {
			return nil, fmt.Errorf("parse exposed port %q: want PORT[/tcp|/udp]", k)
		}
		for p := int(start); p <= int(end); p++ {
			ms = append(ms, Mapping{ContainerPort: uint16(p), Protocol: proto})
		}
	}
	slices.SortFunc(ms, func(a, b Mapping) int {
		if a.ContainerPort != b.ContainerPort {
			return int(a.ContainerPort) - int(b.ContainerPort)
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
	ms = slices.Compact(ms)
	return ms, nil
}

// Merge adds to explicit (from -p) the exposed mappings (from -P) whose
// container port explicit does not already publish, as Docker does when
// both flags are given.
func Merge(explicit, exposed []Mapping) []Mapping {
	out := slices.Clone(explicit)
	for _, e := range exposed {
		if !slices.ContainsFunc(explicit, func(m Mapping) bool {
			return m.ContainerPort == e.ContainerPort && m.Protocol == e.Protocol
		}) {
			out = append(out, e)
		}
	}
	return out
}

// Validate checks mappings built by hand or read back from a container
// record: protocols, ports, and host ports that two mappings would both
// bind.
func Validate(ms []Mapping) error {
	for i, m := range ms {
		switch {
		case m.Protocol != "tcp" && m.Protocol != "udp":
			return fmt.Errorf("mapping %s: protocol %q, want tcp or udp", m.spec(), m.Protocol)
		case m.ContainerPort == 0:
			return fmt.Errorf("mapping %s: container port 0", m.spec())
		case m.HostPortEnd != 0 && m.HostPortEnd < m.HostPort:
			return fmt.Errorf("mapping %s: host range ends before it starts", m.spec())
		case m.HostIP.Zone() != "":
			return fmt.Errorf("mapping %s: host IP with a zone", m.spec())
		}
		for _, o := range ms[:i] {
			if overlaps(o, m) {
				return fmt.Errorf("host port %d/%s is published twice, by -p %s and -p %s", m.HostPort, m.Protocol, o.spec(), m.spec())
			}
		}
	}
	return nil
}

// overlaps reports whether a and b would bind the same fixed host port.
// Ranges are left to Listen, which skips ports already taken.
func overlaps(a, b Mapping) bool {
	if a.Protocol != b.Protocol || a.HostPort == 0 || a.HostPort != b.HostPort || a.HostPortEnd != 0 || b.HostPortEnd != 0 {
		return false
	}
	if !a.HostIP.IsValid() || !b.HostIP.IsValid() || a.HostIP == b.HostIP {
		return true
	}
	// 0.0.0.0 and :: are bound one family each (tcp4, tcp6 with
	// IPV6_V6ONLY), so they only clash with addresses of their own family.
	return a.HostIP.Is4() == b.HostIP.Is4() && (a.HostIP.IsUnspecified() || b.HostIP.IsUnspecified())
}

// network is the network Listen binds m on. An explicit address keeps to its
// family; Go would otherwise bind 0.0.0.0 as a dual-stack [::].
func (m Mapping) network() string {
	switch {
	case !m.HostIP.IsValid():
		return m.Protocol
	case m.HostIP.Is4():
		return m.Protocol + "4"
	default:
		return m.Protocol + "6"
	}
}
