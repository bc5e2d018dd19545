package api

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/container/mountspec"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// createContainer is POST /containers/create?name=&platform=: the JSON
// translated into the run options the CLI's flags also become, and
// container.Create, as `lodger create` calls it. The image is never
// pulled here: a missing one is 404, upon which Docker's clients pull it
// and ask again.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) {
	var req dockercontainer.CreateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	ro, warnings, err := runOptions(req, strings.TrimPrefix(r.URL.Query().Get("name"), "/"))
	if err != nil {
		writeError(w, err)
		return
	}
	ro.Storage = s.o.StoreOptions
	ro.Pull = s.o.Pull
	ro.Pull.Platform = r.URL.Query().Get("platform")
	ro.PullPolicy = container.PullNever
	id, _, err := container.Create(r.Context(), s.o.Store, ro)
	if err != nil {
		writeError(w, err)
		return
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, dockercontainer.CreateResponse{ID: id, Warnings: warnings})
}

// runOptions translates a create request into the library's options;
// what lodger cannot honour is a warning, as Docker's for a limit the
// kernel lacks, never silently dropped.
func runOptions(req dockercontainer.CreateRequest, name string) (container.RunOptions, []string, error) {
	var warnings []string
	cfg := req.Config
	if cfg == nil || cfg.Image == "" {
		return container.RunOptions{}, nil, badRequest("config: an Image is required")
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &dockercontainer.HostConfig{}
	}
	ro := container.RunOptions{
		Image:       cfg.Image,
		Args:        cfg.Cmd,
		Env:         cfg.Env,
		Workdir:     cfg.WorkingDir,
		User:        cfg.User,
		Name:        name,
		Hostname:    cfg.Hostname,
		Interactive: cfg.OpenStdin,
		StdinOnce:   cfg.StdinOnce,
		TTY:         cfg.Tty,
		Remove:      hc.AutoRemove,
		PublishAll:  hc.PublishAllPorts,
		StopTimeout: cfg.StopTimeout,
		LogDriver:   hc.LogConfig.Type,
		Security: container.SecurityOptions{Privileged: hc.Privileged, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
			SecurityOpt: hc.SecurityOpt},
		Process: container.ProcessOptions{
			StopSignal: cfg.StopSignal, AddHosts: hc.ExtraHosts, DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions,
			Labels: maps.Clone(cfg.Labels), GroupAdd: hc.GroupAdd,
		},
	}
	if cfg.Entrypoint != nil {
		ro.Entrypoint = append([]string{}, cfg.Entrypoint...)
	}
	if ro.LogDriver == "json-file" || ro.LogDriver == "" {
		ro.LogDriver = "json-file"
	}
	for _, k := range slices.Sorted(maps.Keys(hc.LogConfig.Config)) {
		ro.LogOpts = append(ro.LogOpts, k+"="+hc.LogConfig.Config[k])
	}
	for _, d := range hc.DNS {
		ro.Process.DNS = append(ro.Process.DNS, d.String())
	}
	if hc.Init != nil {
		ro.Process.Init = *hc.Init
	}
	for _, k := range slices.Sorted(maps.Keys(hc.Annotations)) {
		ro.Process.Annotations = append(ro.Process.Annotations, k+"="+hc.Annotations[k])
	}
	for _, u := range hc.Ulimits {
		ro.Process.Ulimits = append(ro.Process.Ulimits, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
	}
	var err error
	if ro.Process.PID, err = namespaceMode("PidMode", string(hc.PidMode)); err != nil {
		return ro, nil, err
	}
	if ro.Process.IPC, err = namespaceMode("IpcMode", string(hc.IpcMode)); err != nil {
		return ro, nil, err
	}
	if ro.Process.UTS, err = namespaceMode("UTSMode", string(hc.UTSMode)); err != nil {
		return ro, nil, err
	}
	ro.Process.Cgroupns = string(hc.CgroupnsMode)
	if err := networkOptions(&ro, string(hc.NetworkMode), req.NetworkingConfig); err != nil {
		return ro, nil, err
	}
	if hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != dockercontainer.RestartPolicyDisabled {
		ro.Restart = monitor.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaxRetries: hc.RestartPolicy.MaximumRetryCount}
		if err := ro.Restart.Check(); err != nil {
			return ro, nil, badRequest("RestartPolicy %q: use no, on-failure, always or unless-stopped", hc.RestartPolicy.Name)
		}
	}
	if ro.Publish, err = portMappings(hc.PortBindings); err != nil {
		return ro, nil, err
	}
	for p := range cfg.ExposedPorts {
		ro.Expose = append(ro.Expose, p.String())
	}
	slices.Sort(ro.Expose)
	if ro.Mounts, err = mountOptions(hc); err != nil {
		return ro, nil, err
	}
	if hc.Sysctls != nil {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(hc.Sysctls)) {
			kv = append(kv, k+"="+hc.Sysctls[k])
		}
		if ro.Sysctls, err = container.ParseSysctls(kv, ro.Network, ro.Process.IPC); err != nil {
			return ro, nil, err
		}
	}
	if h := cfg.Healthcheck; h != nil {
		ro.Health = container.HealthOptions{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	res := hc.Resources
	var limits []string
	if res.Memory > 0 {
		limits = append(limits, "Memory")
	}
	if res.NanoCPUs > 0 || res.CPUQuota > 0 {
		limits = append(limits, "NanoCPUs")
	}
	if res.PidsLimit != nil && *res.PidsLimit > 0 {
		limits = append(limits, "PidsLimit")
	}
	if len(limits) > 0 {
		warnings = append(warnings, strings.Join(limits, ", ")+" not applied: lodger places no container in a cgroup of its own")
	}
	if len(res.Devices) > 0 {
		warnings = append(warnings, "Devices not applied: use lodger run --device")
	}
	return ro, warnings, nil
}

// namespaceMode reads a PidMode, IpcMode or UTSMode: host, or the
// container's own.
func namespaceMode(field, v string) (string, error) {
	switch v {
	case "", "private", "shareable":
		return "", nil
	case "host":
		return "host", nil
	}
	return "", badRequest("%s %q: lodger supports host or the container's own", field, v)
}

// builtinMode is the lodger mode of Docker's built-in network names, ""
// for a user network's name.
func builtinMode(v string) string {
	switch v {
	case "", "default", "bridge", container.NetworkNetstack:
		return container.NetworkNetstack
	case container.NetworkNone, container.NetworkHost:
		return v
	}
	return ""
}

// networkOptions reads NetworkMode and NetworkingConfig: Docker's default
// bridge is lodger's userspace stack; a user network (by NetworkMode or
// in EndpointsConfig, with the first one's aliases and addresses) is one
// of package network's. As Docker's daemon, the endpoints decide when
// there are any: a container is on the networks EndpointsConfig names,
// the default bridge with them when it is one of them (its stack is then
// eth0 and the way out), and NetworkMode's network only when there are
// none; so NetworkMode bridge with an endpoint on a user network (as
// testcontainers' reaper may send) is on the user network alone.
func networkOptions(ro *container.RunOptions, mode string, nc *network.NetworkingConfig) error {
	if strings.HasPrefix(mode, "container:") {
		return badRequest("NetworkMode %q: joining another container's network is not supported by lodger", mode)
	}
	var users []string
	if builtinMode(mode) == "" {
		users = append(users, mode)
	}
	var eps map[string]*network.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	for _, n := range slices.Sorted(maps.Keys(eps)) {
		if builtinMode(n) == "" && !slices.Contains(users, n) {
			users = append(users, n)
		}
	}
	for n, ep := range eps {
		if builtinMode(n) != "" && ep != nil && len(ep.MacAddress) > 0 {
			return badRequest("EndpointsConfig %s: MacAddress is taken on user networks only (lodger's default network gives each container its own stack)", n)
		}
	}
	if len(users) == 0 {
		ro.Network = builtinMode(mode)
		return nil
	}
	if m := builtinMode(mode); mode != "" && m != "" && m != container.NetworkNetstack {
		return badRequest("NetworkMode %s with user networks %s: a container is on user networks or on none or host, not both", mode, strings.Join(users, ", "))
	}
	ro.Networks = users
	if _, ok := eps["bridge"]; ok {
		ro.Networks = append([]string{"bridge"}, users...)
	}
	// Each network's own aliases and addresses (compose sends every
	// network of a service here, each with its ipv4_address and aliases).
	for _, n := range users {
		ep := eps[n]
		if ep == nil {
			continue
		}
		o := container.EndpointOptions{Aliases: ep.Aliases, MAC: net.HardwareAddr(ep.MacAddress)}
		if c := ep.IPAMConfig; c != nil {
			o.IPv4, o.IPv6 = c.IPv4Address, c.IPv6Address
		}
		if ro.Endpoints == nil {
			ro.Endpoints = map[string]container.EndpointOptions{}
		}
		ro.Endpoints[n] = o
	}
	return nil
}

// portMappings turns PortBindings into the mappings -p gives.
func portMappings(pm network.PortMap) ([]ports.Mapping, error) {
	var out []ports.Mapping
	for _, p := range slices.SortedFunc(maps.Keys(pm), func(a, b network.Port) int { return strings.Compare(a.String(), b.String()) }) {
		proto := string(p.Proto())
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, badRequest("PortBindings %s: protocol %s is not supported; use tcp or udp", p, proto)
		}
		for _, b := range pm[p] {
			m := ports.Mapping{ContainerPort: p.Num(), Protocol: proto}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				m.HostIP = b.HostIP
			}
			if b.HostPort != "" {
				lo, hi, isRange := strings.Cut(b.HostPort, "-")
				n, err := strconv.ParseUint(lo, 10, 16)
				if err != nil {
					return nil, badRequest("PortBindings %s: host port %q: not a port", p, b.HostPort)
				}
				m.HostPort = uint16(n)
				if isRange {
					e, err := strconv.ParseUint(hi, 10, 16)
					if err != nil {
						return nil, badRequest("PortBindings %s: host port %q: not a port range", p, b.HostPort)
					}
					m.HostPortEnd = uint16(e)
				}
			}
			out = append(out, m)
		}
	}
	if err := ports.Validate(out); err != nil {
		return nil, badRequest("PortBindings: %v", err)
	}
	return out, nil
}

// mountOptions turns Binds (Docker's SRC:DST[:OPTS], -v's grammar), the
// typed Mounts and Tmpfs into the library's mounts.
func mountOptions(hc *dockercontainer.HostConfig) (container.MountOptions, error) {
	mo := container.MountOptions{ReadOnly: hc.ReadonlyRootfs, ShmSize: hc.ShmSize}
	for _, b := range hc.Binds {
		m, err := mountspec.ParseVolume(b)
		if err != nil {
			return mo, mountError("Binds", err)
		}
		m.Origin = fmt.Sprintf("Binds %q", b)
		mo.List = append(mo.List, m)
	}
	for _, am := range hc.Mounts {
		m, err := apiMount(am)
		if err != nil {
			return mo, err
		}
		mo.List = append(mo.List, m)
	}
	for _, dst := range slices.Sorted(maps.Keys(hc.Tmpfs)) {
		v := dst
		if o := hc.Tmpfs[dst]; o != "" {
			v += ":" + o
		}
		m, err := mountspec.ParseTmpfs(v)
		if err != nil {
			return mo, mountError("Tmpfs", err)
		}
		m.Origin = fmt.Sprintf("Tmpfs %q", v)
		mo.List = append(mo.List, m)
	}
	return mo, nil
}

// mountError phrases a value of field that does not parse: 400, the
// field, the value and why.
func mountError(field string, err error) error {
	var se *mountspec.Error
	if errors.As(err, &se) {
		return badRequest("%s %q: %s", field, se.Value, se.Reason)
	}
	return err
}

// apiMount is one typed mount of the API.
func apiMount(am mount.Mount) (container.Mount, error) {
	flag := fmt.Sprintf("Mounts[type=%s,target=%s]", am.Type, am.Target)
	if !path.IsAbs(am.Target) {
		return container.Mount{}, badRequest("%s: the target must be an absolute path", flag)
	}
	m := container.Mount{Destination: path.Clean(am.Target), ReadOnly: am.ReadOnly, Origin: flag}
	switch am.Type {
	case mount.TypeBind:
		if !path.IsAbs(am.Source) {
			return m, badRequest("%s: a bind source must be an absolute host path", flag)
		}
		m.Type, m.Source = container.MountBind, path.Clean(am.Source)
	case mount.TypeVolume:
		m.Type, m.Source = container.MountVolume, am.Source
		if am.VolumeOptions != nil {
			m.NoCopy = am.VolumeOptions.NoCopy
		}
	case mount.TypeTmpfs:
		m.Type = container.MountTmpfs
		m.Options = []string{"nosuid", "nodev", "noexec"}
		if o := am.TmpfsOptions; o != nil {
			if o.SizeBytes > 0 {
				m.Options = append(m.Options, "size="+strconv.FormatInt(o.SizeBytes, 10))
			}
			if o.Mode != 0 {
				m.Options = append(m.Options, fmt.Sprintf("mode=%o", o.Mode.Perm()))
			}
		}
	default:
		return m, badRequest("%s: mount type %q is not supported; use bind, volume or tmpfs", flag, am.Type)
	}
	return m, nil
}
