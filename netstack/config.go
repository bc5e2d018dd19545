package netstack

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The container's network, in slirp4netns's IPv4 addresses so that what
// users know from podman still holds: the container is 10.0.2.100, the
// gateway (the host, when allowed) 10.0.2.2, the resolver 10.0.2.3. For
// IPv6 slirp4netns's fd00::/64 is too common a choice for hosts (and VMs
// behind slirp) themselves, whose addresses a container could then not
// reach; lodger's own ULA prefix spells "Lodge".
var (
	Subnet  = netip.MustParsePrefix("10.0.2.0/24")
	Gateway = netip.MustParseAddr("10.0.2.2")
	DNS     = netip.MustParseAddr("10.0.2.3")
	Guest   = netip.MustParseAddr("10.0.2.100")

	Subnet6  = netip.MustParsePrefix("fd4c:6f64:6765::/64")
	Gateway6 = netip.MustParseAddr("fd4c:6f64:6765::2")
	DNS6     = netip.MustParseAddr("fd4c:6f64:6765::3")
	Guest6   = netip.MustParseAddr("fd4c:6f64:6765::100")
)

// HostAlias is the name the container's /etc/hosts gives the gateway when
// the host's loopback is allowed.
const HostAlias = "host.lodger.internal"

// Config is a container's network, from `--network netstack[:OPTS]`.
type Config struct {
	// MTU of the container's interface. 65520 lets one frame carry a
	// 64 KiB TCP segment, so a bulk transfer costs few frames.
	MTU uint32 `json:"mtu"`
	// AllowHostLoopback maps the gateway to the host's 127.0.0.1 (and
	// ::1). Off by default: a service the user bound to loopback is
	// private to the user, and a container must not reach it.
	AllowHostLoopback bool `json:"allowHostLoopback,omitempty"`
	// IPv6 gives the container Guest6 behind Gateway6 (set when the host
	// has an IPv6 default route, unless asked otherwise).
	IPv6 bool `json:"ipv6,omitempty"`
	// MaxConns bounds the container's NAT'd flows (TCP and UDP) at once,
	// MaxHalfOpen its TCP handshakes in progress.
	MaxConns    int `json:"maxConns"`
	MaxHalfOpen int `json:"maxHalfOpen"`
	// DialTimeout bounds an outbound connect; UDPIdle ends a UDP flow
	// nothing was sent on.
	DialTimeout time.Duration `json:"dialTimeout"`
	UDPIdle     time.Duration `json:"udpIdle"`
	// Bypass hands the container a connected host socket for a TCP
	// connect(2) to an address outside (see bypass_linux.go) instead of
	// carrying the connection through the stack. Off unless asked for:
	// the socket lives in the host's network namespace, and a container
	// that disconnects it (connect with AF_UNSPEC) can connect, bind or
	// list interfaces there as --network host could (issue 12). An
	// opt-in for a user who trusts the image with the host's TCP.
	Bypass bool `json:"bypass,omitempty"`
	// AcceptBypass hands the container's server the host's socket of a
	// published TCP connection at its accept(2), so that client and
	// server talk without the monitor in between (see accept_linux.go).
	// Off unless asked for, for the same reason as Bypass: the handed
	// socket is the host's, and can be re-aimed.
	AcceptBypass bool `json:"acceptBypass,omitempty"`

	// LAN, when set, puts the stack on a user network's bridge instead
	// of one container's own link (see LAN).
	LAN *LAN `json:"lan,omitempty"`
}

// LAN is a user network's addressing. The network's gateway process runs
// a stack on a TAP in the network's bridge, answering as Gateway (also
// the resolver) for the whole subnet (Guest zero); a container's monitor
// on the network has no stack, only its published ports, carried by the
// kernel to its address Guest.
type LAN struct {
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	Subnet6  netip.Prefix `json:"subnet6,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`
	Guest    netip.Addr   `json:"guest,omitzero"`
	Guest6   netip.Addr   `json:"guest6,omitzero"`
	// MAC is the gateway's: the same for every run of the gateway
	// process, so that the containers' neighbour entries stay right
	// when it is restarted.
	MAC string `json:"mac,omitempty"`
	// Internal networks have no way out: the stack dials nothing.
	Internal bool `json:"internal,omitempty"`
	// Relay is the gateway's relay socket, through which a container's
	// monitor carries its published UDP ports (relay_linux.go).
	Relay string `json:"relay,omitempty"`
}

// plan is the addresses a stack or a container's link uses.
type plan struct {
	subnet, subnet6              netip.Prefix
	gateway, dns, gateway6, dns6 netip.Addr
	guest, guest6                netip.Addr
	lan, internal                bool
}

func (c Config) plan() plan {
	if c.LAN == nil {
		return plan{subnet: Subnet, subnet6: Subnet6, gateway: Gateway, dns: DNS, gateway6: Gateway6, dns6: DNS6, guest: Guest, guest6: Guest6}
	}
	l := c.LAN
	return plan{subnet: l.Subnet, subnet6: l.Subnet6, gateway: l.Gateway, dns: l.Gateway, gateway6: l.Gateway6, dns6: l.Gateway6,
		guest: l.Guest, guest6: l.Guest6, lan: true, internal: l.Internal}
}

// onLink says whether a is on the link's subnets.
func (p plan) onLink(a netip.Addr) bool {
	return p.subnet.Contains(a) || (p.subnet6.IsValid() && p.subnet6.Contains(a))
}

// DefaultConfig is what `--network netstack` gives.
func DefaultConfig() Config {
	return Config{
		MTU:         65520,
		IPv6:        hostHasIPv6(),
		MaxConns:    4096,
		MaxHalfOpen: 256,
		DialTimeout: 10 * time.Second,
		UDPIdle:     60 * time.Second,
	}
}

// ParseOptions reads the options after "netstack:": comma-separated
// key=value pairs.
func ParseOptions(opts string) (Config, error) {
	c := DefaultConfig()
	if opts == "" {
		return c, nil
	}
	for _, kv := range strings.Split(opts, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("network option %q: use KEY=VALUE", kv)
		}
		var err error
		switch k {
		case "mtu":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			if err == nil && (n < 1280 || n > 65520) {
				err = fmt.Errorf("not between 1280 and 65520")
			}
			c.MTU = uint32(n)
		case "allow_host_loopback":
			c.AllowHostLoopback, err = strconv.ParseBool(v)
		case "enable_ipv6":
			c.IPv6, err = strconv.ParseBool(v)
		case "max_conns":
			c.MaxConns, err = positive(v)
		case "max_half_open":
			c.MaxHalfOpen, err = positive(v)
		case "dial_timeout":
			c.DialTimeout, err = time.ParseDuration(v)
		case "udp_idle_timeout":
			c.UDPIdle, err = time.ParseDuration(v)
		case "bypass":
			c.Bypass, err = strconv.ParseBool(v)
		case "accept_bypass":
			c.AcceptBypass, err = strconv.ParseBool(v)
		default:
			return c, fmt.Errorf("network option %q: known options are mtu, allow_host_loopback, enable_ipv6, max_conns, max_half_open, dial_timeout, udp_idle_timeout, bypass, accept_bypass", k)
		}
		if err != nil {
			return c, fmt.Errorf("network option %s=%s: %w", k, v, err)
		}
	}
	return c, nil
}

func positive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return n, err
}
