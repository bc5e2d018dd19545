// Package dns is the resolver a container reaches at its gateway address.
// It answers from the host's own configuration, so a container resolves
// names as the host does: names in the host's hosts file are answered
// locally, and every other query is forwarded unchanged to the host's
// nameservers from resolv.conf. The resolver runs in the host's network
// namespace, so a loopback nameserver such as systemd-resolved's
// 127.0.0.53 works.
//
// Both files are re-read when they change, so a laptop that moves between
// networks keeps resolving. Answer handles one message; ServeUDP and
// ServeTCP run it on the sockets the network stack hands over.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	// maxMessage is the largest DNS message: TCP frames it with a 16-bit
	// length, and no UDP datagram is larger.
	maxMessage = 65535

	// maxUpstream bounds the queries forwarded at once, so a container
	// cannot make the host hold unbounded sockets; queries past it get
	// SERVFAIL, which clients retry.
	maxUpstream = 64

	// hostsTTL is the TTL of answers from the hosts file, short so that an
	// edit reaches caching clients quickly.
	hostsTTL = 10

	// checkEvery is how often the configuration files are stat'ed.
	checkEvery = time.Second

	// maxUDPReply is the classic DNS UDP size. Hosts answers above it are
	// sent truncated so that the client asks again over TCP.
	maxUDPReply = 512
)

// Config says where the resolver finds the host's configuration.
type Config struct {
	// ResolvConf is the host's resolver configuration; default
	// /etc/resolv.conf.
	ResolvConf string
	// Hosts is the host's hosts file; default /etc/hosts.
	Hosts string
	// Servers, if set, replaces the nameservers of ResolvConf. When both
	// are empty the resolver uses 127.0.0.1:53, as glibc does.
	Servers []netip.AddrPort
	// Timeout bounds each attempt at an upstream; default 2s.
	Timeout time.Duration
	// Names, when set, is asked first: a user network's containers by
	// name, alias and short ID, and their addresses back to names.
	Names Names
	// Dial, when set, connects to the servers Upstreams names (a
	// client's own) in place of net.Dialer: a user network's gateway
	// reaches a server on its own network through its stack, and others
	// under the containers' policy. The host's resolvers are dialled
	// with net.Dialer.
	Dial func(ctx context.Context, network string, server netip.AddrPort) (net.Conn, error)
}

// Names are the names a resolver answers for itself. Lookup gets a
// lower-case name without the trailing dot, and the address of the
// client that asks (invalid when unknown): a container on several
// networks finds its neighbours on all of them.
type Names interface {
	Lookup(name string, from netip.Addr) (v4, v6 []netip.Addr, ok bool)
	Reverse(a netip.Addr) (name string, ok bool)
}

// Upstreams is what Names may also do: name the servers a client asks
// through this resolver (a container's --dns), in place of the host's
// resolv.conf and hosts file; none for the host's.
type Upstreams interface {
	Upstreams(from netip.Addr) []netip.AddrPort
}

// HostForwarding is what Names may also do: say whether a client's
// names outside Names (with no servers of its own) may be looked up on
// the host, through its hosts file and resolvers. A container on
// --internal networks alone may not, as in Docker since
// CVE-2024-29018: a query the host forwards would carry data out of a
// network that has no way out. Such a client gets SERVFAIL, as from
// Docker's resolver.
type HostForwarding interface {
	HostForwarding(from netip.Addr) bool
}

// Resolver answers DNS queries from the host's configuration. It is safe
// for concurrent use.
type Resolver struct {
	cfg Config
	// sem holds a token for each query being forwarded.
	sem chan struct{}
	// checkEvery is a field so tests can see reloads at once.
	checkEvery time.Duration

	mu          sync.Mutex
	lastCheck   time.Time
	resolvStamp stamp
	hostsStamp  stamp
	conf        resolvConf
	hosts       map[string]*addrs
}

// New returns a resolver for c. A missing resolv.conf or hosts file counts
// as empty; a file that exists but cannot be read is an error.
func New(c Config) (*Resolver, error) {
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.Hosts == "" {
		c.Hosts = "/etc/hosts"
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	for _, s := range c.Servers {
		if !s.IsValid() {
			return nil, fmt.Errorf("nameserver %v: invalid address", s)
		}
	}
	c.Servers = slices.Clone(c.Servers)
	r := &Resolver{cfg: c, sem: make(chan struct{}, maxUpstream), checkEvery: checkEvery}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadResolvConf(); err != nil {
		return nil, err
	}
	if err := r.loadHosts(); err != nil {
		return nil, err
	}
	r.lastCheck = time.Now()
	return r, nil
}

// Search returns the host's search domains, for the container's
// resolv.conf.
func (r *Resolver) Search() []string {
	r.refresh()
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.conf.search)
}

// Answer answers one DNS message, query, that came over TCP if tcp is set,
// which allows a reply larger than a UDP one. It returns an error, and no
// reply, only for what cannot be answered at all: a message over 64 KiB,
// one whose header does not parse, or a response; a malformed query gets
// FORMERR, and a query no upstream answers gets SERVFAIL.
func (r *Resolver) Answer(ctx context.Context, query []byte, tcp bool) ([]byte, error) {
	return r.AnswerFrom(ctx, query, tcp, netip.Addr{})
}

// AnswerFrom is Answer for a query from the client at from, which Names
// may use.
func (r *Resolver) AnswerFrom(ctx context.Context, query []byte, tcp bool, from netip.Addr) ([]byte, error) {
	if len(query) > maxMessage {
		return nil, fmt.Errorf("query of %d bytes: over the %d-byte limit", len(query), maxMessage)
	}
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, fmt.Errorf("parse query: %w", err)
	}
	// Answering a response could start two resolvers bouncing messages
	// off each other forever.
	if h.Response {
		return nil, errors.New("parse query: message is a response")
	}
	q, err := p.Question()
	if err != nil {
		return reply(h, nil, dnsmessage.RCodeFormatError)
	}
	// Real resolvers reject more than one question (RFC 9619).
	if _, err := p.Question(); !errors.Is(err, dnsmessage.ErrSectionDone) {
		return reply(h, nil, dnsmessage.RCodeFormatError)
	}
	if h.OpCode != 0 {
		return reply(h, &q, dnsmessage.RCodeNotImplemented)
	}
	var servers []netip.AddrPort
	if u, ok := r.cfg.Names.(Upstreams); ok && from.IsValid() {
		servers = u.Upstreams(from)
	}
	if names := r.cfg.Names; names != nil && q.Class == dnsmessage.ClassINET {
		name := lowerName(q.Name.String())
		switch q.Type {
		case dnsmessage.TypeA, dnsmessage.TypeAAAA, dnsmessage.TypeALL:
			if v4, v6, ok := names.Lookup(name, from); ok {
				return hostsReply(h, q, &addrs{v4: v4, v6: v6}, tcp)
			}
		case dnsmessage.TypePTR:
			if a, ok := parseReverse(name); ok {
				if host, ok := names.Reverse(a); ok {
					return ptrReply(h, q, host)
				}
			}
		}
	}
	if len(servers) > 0 {
		// The client's own servers replace the host's resolvers, hosts
		// file included.
		return r.forward(ctx, query, h, q, tcp, servers)
	}
	if f, ok := r.cfg.Names.(HostForwarding); ok && !f.HostForwarding(from) {
		return reply(h, &q, dnsmessage.RCodeServerFailure)
	}
	if q.Class == dnsmessage.ClassINET && (q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeAAAA || q.Type == dnsmessage.TypeALL) {
		r.refresh()
		r.mu.Lock()
		a := r.hosts[lowerName(q.Name.String())]
		r.mu.Unlock()
		if a != nil {
			return hostsReply(h, q, a, tcp)
		}
	}
	return r.forward(ctx, query, h, q, tcp, nil)
}

// reply builds an answerless reply to h with rcode, echoing q if known.
func reply(h dnsmessage.Header, q *dnsmessage.Question, rcode dnsmessage.RCode) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), replyHeader(h, rcode))
	if q != nil {
		if err := b.StartQuestions(); err != nil {
			return nil, err
		}
		if err := b.Question(*q); err != nil {
			return nil, fmt.Errorf("build reply: %w", err)
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("build reply: %w", err)
	}
	return msg, nil
}

func replyHeader(h dnsmessage.Header, rcode dnsmessage.RCode) dnsmessage.Header {
	return dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
		RCode:              rcode,
	}
}

// hostsReply answers q from a hosts file entry. A name with addresses of
// one family only gets NOERROR and no answers for the other, as a zone
// holding the name would: forwarding could return an address that
// contradicts the hosts file.
func hostsReply(h dnsmessage.Header, q dnsmessage.Question, a *addrs, tcp bool) ([]byte, error) {
	rh := replyHeader(h, dnsmessage.RCodeSuccess)
	rh.Authoritative = true
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, fmt.Errorf("build hosts reply: %w", err)
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: hostsTTL}
	if q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeALL {
		for _, ip := range a.v4 {
			if err := b.AResource(res, dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, fmt.Errorf("build hosts reply: %w", err)
			}
		}
	}
	if q.Type == dnsmessage.TypeAAAA || q.Type == dnsmessage.TypeALL {
		for _, ip := range a.v6 {
			if err := b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: ip.As16()}); err != nil {
				return nil, fmt.Errorf("build hosts reply: %w", err)
			}
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("build hosts reply: %w", err)
	}
	if !tcp && len(msg) > maxUDPReply {
		rh.Truncated = true
		b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
		if err := b.StartQuestions(); err != nil {
			return nil, err
		}
		if err := b.Question(q); err != nil {
			return nil, fmt.Errorf("build hosts reply: %w", err)
		}
		return b.Finish()
	}
	return msg, nil
}

// lowerName folds ASCII case, the only case DNS names have (RFC 4343), and
// drops the root's trailing dot, so names compare as hosts entries do.
func lowerName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	if n := len(b); n > 1 && b[n-1] == '.' {
		b = b[:n-1]
	}
	return string(b)
}

// parseReverse reads the address of a reverse name: d.c.b.a.in-addr.arpa
// or the 32 nibbles of ip6.arpa.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		slices.Reverse(parts)
		a, err := netip.ParseAddr(strings.Join(parts, "."))
		return a, err == nil && a.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		nibbles := strings.Split(rest, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, n := range nibbles {
			v, err := strconv.ParseUint(n, 16, 8)
			if err != nil || len(n) != 1 {
				return netip.Addr{}, false
			}
			j := 31 - i
			b[j/2] |= byte(v) << (4 * (1 - j%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// ptrReply answers a reverse query with one name.
func ptrReply(h dnsmessage.Header, q dnsmessage.Question, host string) ([]byte, error) {
	target, err := dnsmessage.NewName(host + ".")
	if err != nil {
		return reply(h, &q, dnsmessage.RCodeServerFailure)
	}
	rh := replyHeader(h, dnsmessage.RCodeSuccess)
	rh.Authoritative = true
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, fmt.Errorf("build PTR reply: %w", err)
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: hostsTTL}
	if err := b.PTRResource(res, dnsmessage.PTRResource{PTR: target}); err != nil {
		return nil, fmt.Errorf("build PTR reply: %w", err)
	}
	return b.Finish()
}
