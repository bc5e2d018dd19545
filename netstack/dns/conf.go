package dns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// maxNameservers is how many nameservers glibc uses (MAXNS); later ones
// are ignored there too.
const maxNameservers = 3

// defaultServer is glibc's nameserver when resolv.conf names none.
var defaultServer = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 53)

// stamp tells whether a file changed since it was read.
type stamp struct {
	exists  bool
	modTime int64
	size    int64
}

func statStamp(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{exists: true, modTime: fi.ModTime().UnixNano(), size: fi.Size()}
}

type resolvConf struct {
	servers []netip.AddrPort
	search  []string
}

type addrs struct {
	v4, v6 []netip.Addr
}

// refresh re-reads the files that changed, at most once per checkEvery, so
// a query costs no more than a clock read. A file that cannot be read
// keeps its last contents rather than cutting off resolution.
func (r *Resolver) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastCheck) < r.checkEvery {
		return
	}
	r.lastCheck = now
	if statStamp(r.cfg.ResolvConf) != r.resolvStamp {
		_ = r.loadResolvConf()
	}
	if statStamp(r.cfg.Hosts) != r.hostsStamp {
		_ = r.loadHosts()
	}
}

// loadResolvConf reads ResolvConf; r.mu is held.
func (r *Resolver) loadResolvConf() error {
	st := statStamp(r.cfg.ResolvConf)
	b, err := os.ReadFile(r.cfg.ResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read resolver configuration: %w", err)
	}
	r.conf = parseResolvConf(b)
	if len(r.cfg.Servers) > 0 {
		r.conf.servers = r.cfg.Servers
	}
	if len(r.conf.servers) == 0 {
		r.conf.servers = []netip.AddrPort{defaultServer}
	}
	r.resolvStamp = st
	return nil
}

// loadHosts reads Hosts; r.mu is held.
func (r *Resolver) loadHosts() error {
	st := statStamp(r.cfg.Hosts)
	b, err := os.ReadFile(r.cfg.Hosts)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read hosts file: %w", err)
	}
	r.hosts = parseHosts(b)
	r.hostsStamp = st
	return nil
}

// upstreams returns the nameservers to forward to, in order.
func (r *Resolver) upstreams() []netip.AddrPort {
	r.refresh()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conf.servers
}

// parseResolvConf reads what the resolver needs of resolv.conf(5): the
// nameservers and the search list, where the last search or domain line
// wins, as in glibc.
func parseResolvConf(b []byte) resolvConf {
	var c resolvConf
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			ip, err := netip.ParseAddr(f[1])
			if err != nil || len(c.servers) == maxNameservers {
				continue
			}
			c.servers = append(c.servers, netip.AddrPortFrom(ip.Unmap(), 53))
		case "search":
			c.search = nil
			for _, d := range f[1:] {
				if d = strings.TrimSuffix(d, "."); d != "" && !strings.HasPrefix(d, "#") {
					c.search = append(c.search, d)
				}
			}
		case "domain":
			c.search = nil
			if d := strings.TrimSuffix(f[1], "."); d != "" {
				c.search = []string{d}
			}
		}
	}
	return c
}

// parseHosts reads hosts(5) into a map from lower-case name, without a
// trailing dot, to its addresses in file order.
func parseHosts(b []byte) map[string]*addrs {
	m := make(map[string]*addrs)
	s := bufio.NewScanner(bytes.NewReader(b))
	// Blocklist hosts files have long lines of aliases.
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		// A zone means nothing outside this host.
		ip = ip.WithZone("").Unmap()
		for _, name := range f[1:] {
			name = lowerName(name)
			a := m[name]
			if a == nil {
				a = &addrs{}
				m[name] = a
			}
			if ip.Is4() && !slices.Contains(a.v4, ip) {
				a.v4 = append(a.v4, ip)
			} else if ip.Is6() && !slices.Contains(a.v6, ip) {
				a.v6 = append(a.v6, ip)
			}
		}
	}
	return m
}
