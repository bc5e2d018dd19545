package container

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/netstack"
	"github.com/lodger-containers/lodger/netstack/ports"
	lnetwork "github.com/lodger-containers/lodger/network"
)

// InspectReport is `inspect`'s report of a container: Docker Engine API's
// own type, field for field, so scripts written for docker inspect and a
// future API socket read the same schema (issue 13); what lodger knows
// beyond Docker's fields is in Lodger, never in place of Docker's.
type InspectReport struct {
	dockercontainer.InspectResponse
	Lodger LodgerState `json:"Lodger"`
}

// LodgerState is what inspect shows of a container that Docker's schema
// has no field for.
type LodgerState struct {
	// MonitorPid is the monitor (or foreground lodger) that waits for the
	// container process and holds its network.
	MonitorPid int `json:"MonitorPid,omitempty"`
	// BootID is the boot the state was recorded in; a state of another
	// boot reads as exited.
	BootID string `json:"BootID,omitempty"`
	// Network is the container's --network as lodger keeps it, with the
	// userspace stack's options.
	Network NetworkSettings `json:"Network"`
	// Volumes are the names of the volumes the container mounts.
	Volumes []string `json:"Volumes,omitempty"`
	// LogMaxSize is --log-opt max-size in bytes; 0 is unbounded.
	LogMaxSize int64 `json:"LogMaxSize,omitempty"`
}

// zeroTime is how Docker prints a time that never happened.
const zeroTime = "0001-01-01T00:00:00Z"

// Inspect describes the container ref names in Docker's schema, from its
// record, its state, its saved spec and its image's configuration.
func Inspect(ctx context.Context, store cstorage.Store, ref string) (*InspectReport, error) {
	in, err := Get(store, ref)
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec(store, in.ID)
	if err != nil {
		spec = &specs.Spec{} // a container half-created: report what there is
	}
	var img *imgspecv1.Image
	if in.ImageID != "" {
		img, _ = image.Config(ctx, store, in.ImageID) // a removed image leaves its fields empty
	}
	r := inspectReport(in, spec, img)
	addUserNetworks(store, in, r)
	r.Driver = store.GraphDriverName()
	r.GraphDriver = &storage.DriverData{Name: r.Driver, Data: map[string]string{}}
	if dir, err := store.ContainerDirectory(in.ID); err == nil {
		r.ResolvConfPath = filepath.Join(dir, "resolv.conf")
		r.HostnamePath = filepath.Join(dir, "hostname")
		r.HostsPath = filepath.Join(dir, "hosts")
	}
	return r, nil
}

// AddSizes fills r's SizeRw (the container's writable layer) and
// SizeRootFs (that and its image), as `inspect --size` shows them.
func AddSizes(store cstorage.Store, r *InspectReport) {
	rw, err := store.ContainerSize(r.ID)
	if err != nil {
		return
	}
	root := rw
	if img, err := store.ImageSize(strings.TrimPrefix(r.Image, "sha256:")); err == nil {
		root += img
	}
	r.SizeRw, r.SizeRootFs = &rw, &root
}

// inspectReport converts lodger's facts of a container into Docker's
// schema. img may be nil (the image is gone).
func inspectReport(in Info, spec *specs.Spec, img *imgspecv1.Image) *InspectReport {
	m := in.Metadata
	st := in.State
	r := &InspectReport{Lodger: LodgerState{MonitorPid: st.MonitorPid, BootID: st.BootID,
		Network: m.networkOf(), Volumes: m.Volumes, LogMaxSize: m.LogMaxSize}}
	d := &r.InspectResponse
	d.ID = in.ID
	d.Created = m.Created.UTC().Format(time.RFC3339Nano)
	if len(m.Command) > 0 {
		d.Path, d.Args = m.Command[0], slices.Clone(m.Command[1:])
	}
	if d.Args == nil {
		d.Args = []string{}
	}
	d.Image = "sha256:" + in.ImageID
	d.LogPath = in.LogPath
	d.Name = "/" + in.Name
	d.RestartCount = st.RestartCount
	d.Platform = "linux"
	d.State = inspectState(st)
	if h := st.Health; h != nil {
		d.State.Health = &dockercontainer.Health{Status: dockercontainer.HealthStatus(h.Status), FailingStreak: h.FailingStreak,
			Log: []*dockercontainer.HealthcheckResult{}}
		for _, r := range h.Log {
			d.State.Health.Log = append(d.State.Health.Log, &dockercontainer.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
		}
	}

	var imgCfg imgspecv1.ImageConfig
	if img != nil {
		imgCfg = img.Config
	}
	cfg := &dockercontainer.Config{
		Hostname:     spec.Hostname,
		AttachStdout: true, AttachStderr: true,
		Image:        m.Image,
		Labels:       m.Labels,
		StopSignal:   m.StopSignal,
		ExposedPorts: network.PortSet{},
		Env:          []string{},
		Volumes:      map[string]struct{}{},
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	if m.Entrypoint != nil || m.Cmd != nil {
		cfg.Entrypoint, cfg.Cmd = m.Entrypoint, m.Cmd
	} else {
		cfg.Entrypoint, cfg.Cmd = splitCommand(m.Command, imgCfg.Entrypoint)
	}
	// Docker's ExposedPorts: the image's EXPOSE, --expose, and every
	// published port.
	for _, p := range append(slices.Collect(maps.Keys(imgCfg.ExposedPorts)), m.Expose...) {
		if port, err := network.ParsePort(p); err == nil {
			cfg.ExposedPorts[port] = struct{}{}
		}
	}
	for v := range imgCfg.Volumes {
		cfg.Volumes[v] = struct{}{}
	}
	if p := spec.Process; p != nil {
		cfg.Env = p.Env
		cfg.WorkingDir = p.Cwd
		cfg.Tty = p.Terminal
		// -i, which Docker's attach reads to decide whether to send
		// its input at all.
		cfg.OpenStdin = m.Interactive
		cfg.StdinOnce = m.StdinOnce
		if imgCfg.User != "" {
			cfg.User = imgCfg.User
		}
		if p.User.UID != 0 || p.User.GID != 0 {
			cfg.User = strconv.FormatUint(uint64(p.User.UID), 10) + ":" + strconv.FormatUint(uint64(p.User.GID), 10)
		}
	}
	net := m.networkOf()
	host := &dockercontainer.HostConfig{
		Binds:         []string{},
		NetworkMode:   dockercontainer.NetworkMode(m.NetworkName()),
		PortBindings:  network.PortMap{},
		RestartPolicy: dockercontainer.RestartPolicy{Name: dockercontainer.RestartPolicyMode(m.Restart.Name), MaximumRetryCount: m.Restart.MaxRetries},
		AutoRemove:    m.Remove,
	}
	if host.RestartPolicy.Name == "" {
		host.RestartPolicy.Name = dockercontainer.RestartPolicyDisabled
	}
	host.LogConfig = logConfig(m)
	host.Memory, host.NanoCPUs = m.Limits.Memory, m.Limits.NanoCPUs
	if m.Limits.Pids != 0 {
		pids := m.Limits.Pids
		host.PidsLimit = &pids
	}
	cfg.StopTimeout = m.StopTimeout
	if hc := m.Healthcheck; hc != nil {
		cfg.Healthcheck = &dockercontainer.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout,
			StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries}
	}
	for _, p := range net.Publish {
		port, b := portBinding(p)
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port], b)
	}
	if root := spec.Root; root != nil {
		host.ReadonlyRootfs = root.Readonly
	}
	host.Privileged, host.CapAdd, host.CapDrop = capsOf(spec)
	if l := spec.Linux; l != nil {
		host.MaskedPaths, host.ReadonlyPaths = l.MaskedPaths, l.ReadonlyPaths
	}
	if p := spec.Process; p != nil && p.NoNewPrivileges {
		host.SecurityOpt = append(host.SecurityOpt, "no-new-privileges")
	}
	if p := spec.Process; p != nil && p.OOMScoreAdj != nil {
		host.OomScoreAdj = *p.OOMScoreAdj
	}
	host.ShmSize = shmSize(spec)
	d.Config, d.HostConfig = cfg, host
	d.Mounts = []dockercontainer.MountPoint{}
	volumes := map[string]bool{}
	for _, v := range m.Volumes {
		volumes[v] = true
	}
	for _, sm := range spec.Mounts {
		mp, ok := mountPoint(sm, volumes)
		if !ok {
			continue
		}
		d.Mounts = append(d.Mounts, mp)
		if mp.Type != mount.TypeTmpfs {
			b := mp.Source
			if mp.Type == mount.TypeVolume {
				b = mp.Name
			}
			b += ":" + mp.Destination
			if !mp.RW {
				b += ":ro"
			}
			host.Binds = append(host.Binds, b)
		}
	}
	d.NetworkSettings = &dockercontainer.NetworkSettings{Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{}}
	if st.Status == monitor.StatusRunning {
		for _, p := range st.Ports {
			port, b := portBinding(p)
			d.NetworkSettings.Ports[port] = append(d.NetworkSettings.Ports[port], b)
		}
	}
	if name, ep, ok := builtinEndpoint(in); ok { // addUserNetworks fills in the others
		d.NetworkSettings.Networks[name] = ep
	}
	return r
}

// builtinEndpoint is the container's entry for its default, host or
// none network in Docker's NetworkSettings.Networks; ok is false on
// user networks alone.
func builtinEndpoint(in Info) (string, *network.EndpointSettings, bool) {
	m := in.Metadata
	mode := m.networkOf().Mode
	if mode == NetworkUser {
		return "", nil, false
	}
	ep := &network.EndpointSettings{}
	if n, err := lnetwork.New("").Get(m.NetworkName()); err == nil {
		ep.NetworkID = n.ID // the predefined networks' IDs need no store
	}
	if mode == NetworkNetstack && in.State.Status == monitor.StatusRunning {
		// As Docker: a stopped container shows no address.
		ep.Gateway, ep.IPPrefixLen, ep.IPAddress = netstack.Gateway, 24, netstack.Guest
		ep.EndpointID = in.ID
	}
	return m.NetworkName(), ep, true
}

// logConfig is --log-driver and --log-opt as Docker's LogConfig; records
// from before the log drivers wrote k8s-file lines.
func logConfig(m Metadata) dockercontainer.LogConfig {
	lc := dockercontainer.LogConfig{Type: "k8s-file", Config: map[string]string{}}
	size := m.LogMaxSize
	if m.Log != nil {
		if m.Log.Driver != "" {
			lc.Type = m.Log.Driver
		}
		size = m.Log.MaxSize
		if m.Log.MaxFile > 0 && size > 0 {
			lc.Config["max-file"] = strconv.Itoa(m.Log.MaxFile)
		}
	}
	if size > 0 {
		lc.Config["max-size"] = strconv.FormatInt(size, 10)
	}
	return lc
}

// inspectState is the state as Docker's: times in RFC 3339, the zero time
// for what never happened, 0 for an exit nobody saw.
func inspectState(st monitor.State) *dockercontainer.State {
	s := &dockercontainer.State{
		Status:     dockercontainer.ContainerState(st.Status),
		Running:    st.Status == monitor.StatusRunning,
		StartedAt:  zeroTime,
		FinishedAt: zeroTime,
	}
	if s.Running {
		s.Pid = st.Pid
		// Docker's paused container is running and paused both.
		if st.Paused {
			s.Paused, s.Status = true, dockercontainer.StatePaused
		}
	}
	if st.ExitCode != nil {
		s.ExitCode = *st.ExitCode
	}
	s.OOMKilled = st.OOMKilled
	if !st.StartedAt.IsZero() {
		s.StartedAt = st.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if !st.FinishedAt.IsZero() {
		s.FinishedAt = st.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// splitCommand tells the entrypoint from the command in the argv lodger
// keeps: the image's entrypoint when argv starts with it, otherwise
// (--entrypoint) the first word.
func splitCommand(argv, imageEntrypoint []string) (entrypoint, cmd []string) {
	switch {
	case len(imageEntrypoint) == 0:
		return nil, argv
	case len(argv) >= len(imageEntrypoint) && slices.Equal(argv[:len(imageEntrypoint)], imageEntrypoint):
		return imageEntrypoint, argv[len(imageEntrypoint):]
	case len(argv) > 0:
		return argv[:1], argv[1:]
	}
	return nil, nil
}

// portBinding is a published port as Docker's PortMap holds it.
func portBinding(p ports.Mapping) (network.Port, network.PortBinding) {
	port, _ := network.ParsePort(fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
	hostIP := p.HostIP
	if !hostIP.IsValid() {
		hostIP = netip.IPv4Unspecified()
	}
	hp := strconv.Itoa(int(p.HostPort))
	if p.HostPort == 0 {
		hp = ""
	}
	if p.HostPortEnd > p.HostPort {
		hp += "-" + strconv.Itoa(int(p.HostPortEnd))
	}
	return port, network.PortBinding{HostIP: hostIP, HostPort: hp}
}

// capsOf reads --privileged, --cap-add and --cap-drop back from the
// spec's bounding set against lodger's default set.
func capsOf(spec *specs.Spec) (privileged bool, add, drop []string) {
	if spec.Process == nil || spec.Process.Capabilities == nil {
		return false, nil, nil
	}
	have := spec.Process.Capabilities.Bounding
	all := exec.AllCapabilities()
	if len(have) >= len(all) && (spec.Linux == nil || spec.Linux.Seccomp == nil) {
		return true, nil, nil
	}
	for _, c := range have {
		if !slices.Contains(exec.DefaultCapabilities, c) {
			add = append(add, c)
		}
	}
	for _, c := range exec.DefaultCapabilities {
		if !slices.Contains(have, c) {
			drop = append(drop, c)
		}
	}
	return false, add, drop
}

// shmSize is the size of the container's /dev/shm.
func shmSize(spec *specs.Spec) int64 {
	for _, m := range spec.Mounts {
		if m.Destination != "/dev/shm" {
			continue
		}
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "size="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
}

// mountPoint is a user's mount (-v, --mount, --tmpfs) as Docker's Mounts
// lists it; lodger's own (/proc, /dev, its /etc files, /dev/shm) are not
// listed, as Docker lists none of its own.
func mountPoint(sm specs.Mount, volumes map[string]bool) (dockercontainer.MountPoint, bool) {
	rw := !slices.Contains(sm.Options, "ro")
	switch {
	case sm.Type == "tmpfs" && sm.Source == "tmpfs" && sm.Destination != "/dev" && sm.Destination != "/dev/shm":
		return dockercontainer.MountPoint{Type: mount.TypeTmpfs, Destination: sm.Destination, RW: rw}, true
	case sm.Type == "bind" && slices.Contains(sm.Options, "rbind"):
		mp := dockercontainer.MountPoint{Type: mount.TypeBind, Source: sm.Source, Destination: sm.Destination,
			RW: rw, Propagation: mount.PropagationRPrivate}
		// A volume's data is NAME/_data in lodger's volume directory.
		if name := filepath.Base(filepath.Dir(sm.Source)); filepath.Base(sm.Source) == "_data" && volumes[name] {
			mp.Type, mp.Name, mp.Driver, mp.Propagation = mount.TypeVolume, name, "local", ""
		}
		return mp, true
	}
	return dockercontainer.MountPoint{}, false
}
