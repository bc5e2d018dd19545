package container

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack"
)

// ProcessOptions are the run flags about the process and its namespaces.
type ProcessOptions struct {
	Init        bool
	Ulimits     []string // NAME=SOFT[:HARD]
	StopSignal  string
	AddHosts    []string // HOST:IP
	DNS         []string
	DNSSearch   []string
	DNSOptions  []string
	Labels      map[string]string
	Annotations []string // KEY=VALUE
	PID         string   // "" or host
	IPC         string   // "" or host
	UTS         string   // "" or host
	// Cgroupns is --cgroupns: "" or private for a cgroup namespace of
	// the container's own, host for the session's.
	Cgroupns string
	GroupAdd []string
	// OOMScoreAdj is --oom-score-adj, -1000 to 1000; nil leaves the
	// container the score lodger has. Rootless, only raising it works:
	// lowering it below that takes CAP_SYS_RESOURCE on the host.
	OOMScoreAdj *int
}

// parsedProcess is ProcessOptions checked and converted.
type parsedProcess struct {
	rlimits     []specs.POSIXRlimit
	stopSignal  string
	hosts       []string // "IP\tNAME" lines
	labels      map[string]string
	annotations map[string]string
}

// parseProcess validates o; every error names the flag and the value.
func parseProcess(o ProcessOptions) (parsedProcess, error) {
	var p parsedProcess
	if o.Cgroupns != "" && o.Cgroupns != "host" && o.Cgroupns != "private" {
		return p, optionError(OptCgroupns, strconv.Quote(o.Cgroupns), "want host or private", nil)
	}
	if a := o.OOMScoreAdj; a != nil && (*a < -1000 || *a > 1000) {
		return p, optionError(OptOOMScoreAdj, strconv.Itoa(*a), "invalid value, the range is [-1000, 1000]", nil)
	}
	for _, u := range o.Ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return p, optionError(OptUlimit, strconv.Quote(u), err.Error(), err)
		}
		rl, err := ul.GetRlimit()
		if err != nil {
			return p, optionError(OptUlimit, strconv.Quote(u), err.Error(), err)
		}
		p.rlimits = append(p.rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(ul.Name), Soft: uint64(rl.Soft), Hard: uint64(rl.Hard)})
	}
	if o.StopSignal != "" {
		if _, err := ParseSignal(o.StopSignal); err != nil {
			return p, optionError(OptStopSignal, strconv.Quote(o.StopSignal), err.Error(), err)
		}
		p.stopSignal = o.StopSignal
	}
	for _, h := range o.AddHosts {
		name, ip, ok := strings.Cut(h, ":")
		if i := strings.LastIndex(h, "="); i > 0 {
			name, ip, ok = h[:i], h[i+1:], true
		}
		if !ok || name == "" || net.ParseIP(strings.Trim(ip, "[]")) == nil {
			return p, optionError(OptAddHost, strconv.Quote(h), "want HOST:IP", nil)
		}
		p.hosts = append(p.hosts, strings.Trim(ip, "[]")+"\t"+name)
	}
	for _, d := range o.DNS {
		if net.ParseIP(d) == nil {
			return p, optionError(OptDNS, strconv.Quote(d), "not an IP address", nil)
		}
	}
	var err error
	p.labels = maps.Clone(o.Labels)
	if p.labels == nil {
		p.labels = map[string]string{}
	}
	if p.annotations, err = keyValues(OptAnnotation, o.Annotations); err != nil {
		return p, err
	}
	for _, ns := range []struct {
		opt Option
		v   string
	}{{OptPID, o.PID}, {OptIPC, o.IPC}, {OptUTS, o.UTS}} {
		if ns.v != "" && ns.v != "host" && ns.v != "private" {
			return p, optionError(ns.opt, strconv.Quote(ns.v), "use host or private", nil)
		}
	}
	return p, nil
}

// ParseSignal takes a signal by number or by name, with or without SIG.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("no signal %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal")
}

func keyValues(opt Option, kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, optionError(opt, strconv.Quote(kv), "want KEY=VALUE", nil)
		}
		m[k] = v
	}
	return m, nil
}

// namespaces lists the namespaces the container gets of its own.
func (o ProcessOptions) namespaces(network string) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if o.Cgroupns != "host" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	if o.PID != "host" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if o.IPC != "host" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	if o.UTS != "host" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if network != NetworkHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

// applyProcess puts the parsed options into spec.
func applyProcess(spec *specs.Spec, o ProcessOptions, p parsedProcess, rootfs string) error {
	spec.Process.Rlimits = p.rlimits
	spec.Process.OOMScoreAdj = o.OOMScoreAdj
	if len(p.annotations) > 0 || o.Init {
		spec.Annotations = map[string]string{}
		for k, v := range p.annotations {
			spec.Annotations[k] = v
		}
	}
	if o.Init {
		spec.Annotations[exec.AnnotationInit] = "true"
	}
	for _, g := range o.GroupAdd {
		gid, err := exec.ResolveGroup(rootfs, g)
		if err != nil {
			return optionError(OptGroupAdd, strconv.Quote(g), err.Error(), err)
		}
		if !slices.Contains(spec.Process.User.AdditionalGids, gid) && gid != spec.Process.User.GID {
			spec.Process.User.AdditionalGids = append(spec.Process.User.AdditionalGids, gid)
		}
	}
	return nil
}

// etcContent is what lodger writes for /etc/hosts and /etc/resolv.conf.
func etcContent(hostname string, n NetworkSettings, o ProcessOptions, p parsedProcess) (hosts, resolv string) {
	self := "127.0.1.1"
	if n.Mode == NetworkNetstack {
		self = netstack.Guest.String()
	}
	if n.Mode == NetworkUser && n.self.IsValid() {
		self = n.self.String()
	}
	hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + self + "\t" + hostname + "\n"
	if n.Mode == NetworkNetstack && n.Netstack != nil && n.Netstack.AllowHostLoopback {
		hosts += netstack.Gateway.String() + "\t" + netstack.HostAlias + "\n"
	}
	if n.Mode == NetworkHost {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	for _, h := range p.hosts {
		hosts += h + "\n"
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		resolv = string(b)
	}
	if n.Mode == NetworkNetstack && (len(o.DNS) == 0 || len(n.Networks) > 0) {
		// The host's resolvers are often on its loopback (127.0.0.53),
		// which the container cannot reach: it asks the stack's resolver,
		// which asks them. On user networks too, that resolver also
		// answers their names, and asks the --dns servers for others.
		o.DNS = []string{netstack.DNS.String()}
	}
	if n.Mode == NetworkUser && n.resolver.IsValid() {
		// The network's gateway answers for the containers on it, and
		// asks the host's resolvers for the rest, or with --dns those
		// servers (the endpoint names them), as Docker's embedded
		// resolver does.
		o.DNS = []string{n.resolver.String()}
	}
	if len(o.DNS) == 0 && len(o.DNSSearch) == 0 && len(o.DNSOptions) == 0 {
		return hosts, resolv
	}
	// Any --dns flag replaces the corresponding lines of the host's file.
	var b strings.Builder
	for _, line := range strings.Split(resolv, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if (f[0] == "nameserver" && len(o.DNS) > 0) || ((f[0] == "search" || f[0] == "domain") && len(o.DNSSearch) > 0) || (f[0] == "options" && len(o.DNSOptions) > 0) {
			continue
		}
		b.WriteString(line + "\n")
	}
	for _, d := range o.DNS {
		b.WriteString("nameserver " + d + "\n")
	}
	if len(o.DNSSearch) > 0 {
		b.WriteString("search " + strings.Join(o.DNSSearch, " ") + "\n")
	}
	if len(o.DNSOptions) > 0 {
		b.WriteString("options " + strings.Join(o.DNSOptions, " ") + "\n")
	}
	return hosts, b.String()
}
