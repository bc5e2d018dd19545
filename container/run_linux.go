package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/netstack/ports"
	lnetwork "github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/network/bridge"
	"github.com/lodger-containers/lodger/storage"
)

// RunOptions is everything `lodger run` takes.
type RunOptions struct {
	Image string
	Args  []string
	// Entrypoint replaces the image's Entrypoint (and drops its Cmd)
	// when not nil; empty clears it.
	Entrypoint []string
	Env        []string
	EnvFiles   []string
	Workdir    string
	User       string
	Name       string
	Hostname   string
	Network    string // --network
	// Networks are repeated --network values; when set they replace
	// Network. NetworkAliases, IP and IP6 shape the container's endpoint
	// on the first user network.
	Networks       []string
	NetworkAliases []string
	IP, IP6        string
	MacAddress     string // --mac-address, on the first user network
	// Endpoints are the aliases and addresses on each user network, by
	// its name as Networks gives it (the Engine API's EndpointsConfig,
	// which compose fills for each of a service's networks); a network
	// with an entry takes it instead of NetworkAliases, IP and IP6.
	Endpoints   map[string]EndpointOptions
	Publish     []ports.Mapping // -p, parsed by the front end
	PublishAll  bool            // -P
	Interactive bool
	// StdinOnce is Docker's: the container's stdin closes when the
	// input of the first client attached to it ends (docker run -i
	// attached sets it). Without it the stdin of an -i container stays
	// open from one attach to the next, as for docker run -d -i.
	StdinOnce bool
	TTY       bool
	Remove    bool
	Security  SecurityOptions
	Mounts    MountOptions
	Process   ProcessOptions
	Userns    string // "" or keep-id
	// Detach runs the container under a monitor and returns once it runs;
	// Started then receives its ID. Storage tells the monitor where the
	// store is.
	Detach     bool
	PullPolicy string // --pull
	// Created is called with the ID once the container record exists
	// (--cidfile).
	Created func(id string)
	// StopTimeout is --stop-timeout, in seconds; nil for stop's default.
	StopTimeout *int
	// Sysctls are --sysctl, checked by ParseSysctls.
	Sysctls map[string]string
	// Expose is --expose: ports -P publishes beside the image's.
	Expose []string
	// Limits are -m, --cpus and --pids-limit: written into cgroups of
	// the container's own under those delegated to the user; the
	// controllers nothing delegates are left out (the CLI warns of them
	// with cgroups.Report.Missing).
	Limits     cgroups.Limits
	Restart    monitor.RestartPolicy
	DetachKeys string // --detach-keys for run -it
	Health     HealthOptions
	LogDriver  string   // --log-driver: json-file (default), k8s-file or none
	LogOpts    []string // --log-opt KEY=VALUE: max-size, max-file, labels, env
	Started    func(id string)
	Storage    storage.Options
	Pull       image.Options
	// PullProgress receives pull progress when the image must be pulled.
	PullProgress io.Writer
	// PullFunc pulls the image when it must be pulled (MustPull says
	// when); nil refuses with ErrNoPull.
	PullFunc PullFunc
	// Signals are forwarded to the container process, unless NoSigProxy
	// (--sig-proxy=false): then a foreground container runs under a
	// monitor, as a detached one, so that it outlives the run that a
	// signal ends, leaving it running (Docker's CLI without the proxy).
	Signals    <-chan os.Signal
	NoSigProxy bool
	// Resize sets the size of the container's terminal, rows and
	// columns, for front ends whose stdin is no terminal (the API).
	Resize <-chan [2]uint16
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// Metadata is what lodger keeps in the storage container record.
type Metadata struct {
	Image   string    `json:"image"`
	ImageID string    `json:"imageID"`
	Command []string  `json:"command"`
	Created time.Time `json:"created"`
	// Entrypoint and Cmd are Docker's Config.Entrypoint and Config.Cmd
	// (CommandParts), which Command joins; records from before them
	// have Command alone. Expose is --expose as PORT/PROTO, for
	// Config.ExposedPorts beside the image's.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Expose     []string `json:"expose,omitempty"`
	// Limits are the resource limits (-m, --cpus, --pids-limit, update).
	Limits cgroups.Limits `json:"limits,omitzero"`
	// Labels and StopSignal are kept for ps filters and stop.
	Labels     map[string]string `json:"labels,omitempty"`
	StopSignal string            `json:"stopSignal,omitempty"`
	// StopTimeout is --stop-timeout: stop's wait when -t is not given.
	StopTimeout *int `json:"stopTimeout,omitempty"`
	// Volumes are the names of the volumes the container mounts.
	Volumes []string `json:"volumes,omitempty"`
	// Interactive is -i (the API's OpenStdin): a monitor started later
	// keeps the container's stdin open for attach.
	Interactive bool `json:"interactive,omitempty"`
	// StdinOnce is RunOptions's.
	StdinOnce bool `json:"stdinOnce,omitempty"`
	// Remove is --rm, for a container created now and started later;
	// Restart and Log likewise. LogMaxSize is the cap of records from
	// before Log (issue 13), whose driver wrote k8s-file lines.
	Remove     bool                  `json:"remove,omitempty"`
	Restart    monitor.RestartPolicy `json:"restart,omitzero"`
	LogMaxSize int64                 `json:"logMaxSize,omitempty"`
	Log        *logfile.Options      `json:"log,omitempty"`
	// Healthcheck is the container's health check (--health-*); nil for
	// none.
	Healthcheck *health.Config `json:"healthcheck,omitempty"`
	// Network is nil in records of lodger before the netstack network,
	// which had --network none.
	Network *NetworkSettings `json:"network,omitempty"`
}

// logOptions is the record's --log-driver and --log-opt.
func (m Metadata) logOptions() logfile.Options {
	if m.Log == nil {
		return logfile.Options{Driver: logfile.K8sFile, MaxSize: m.LogMaxSize}
	}
	return *m.Log
}

// NetworkName is the container's network as Docker names it: bridge for
// lodger's default network (the userspace stack), host, none.
func (m Metadata) NetworkName() string {
	n := m.networkOf()
	if n.Mode == NetworkUser && len(n.Networks) > 0 {
		return n.Networks[0].Name
	}
	if n.Mode != NetworkNetstack {
		return n.Mode
	}
	return lnetwork.Bridge
}

// networkOf is the record's network settings.
func (m Metadata) networkOf() NetworkSettings {
	if m.Network == nil {
		return NetworkSettings{Mode: NetworkNone}
	}
	return *m.Network
}

// attachRun is the foreground half of run -t: attached to the monitor
// until the container exits or the user detaches.
func attachRun(store cstorage.Store, id string, opts RunOptions) (int, error) {
	in, err := Get(store, id)
	if err != nil {
		return exec.ExitLodger, err
	}
	ao := AttachOptions{DetachKeys: opts.DetachKeys, Stdin: opts.Stdin, NoStdin: !opts.Interactive,
		Stdout: opts.Stdout, Stderr: opts.Stderr, Signals: opts.Signals, NoSigProxy: opts.NoSigProxy}
	code, err := attach(in, opts.TTY, ao, false)
	var sd *SignalDetachError
	if errors.As(err, &sd) {
		return code, err
	}
	if errors.Is(err, ErrDetached) {
		return 0, nil
	}
	return code, err
}

// validName is Docker's rule for container names.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// ValidateName checks a container's name; empty means lodger picks one.
func ValidateName(name string) error {
	if name != "" && !validName().MatchString(name) {
		return optionError(OptName, strconv.Quote(name), "invalid container name: use letters, digits, '_', '.' and '-', starting with a letter or digit", nil)
	}
	return nil
}

// ErrNameInUse says another container has the requested name.
var ErrNameInUse = errors.New("name in use")

// Run creates a container from opts.Image, runs it in the foreground and
// returns its exit code. Errors are *exec.ExitError with Docker's codes.
// With Remove the container's layer and record are gone when Run returns,
// whatever happened.
func Run(ctx context.Context, store cstorage.Store, opts RunOptions) (int, error) {
	return create(ctx, store, opts, false)
}

// Create makes a container from opts without starting it; `start` runs it
// later under a monitor. It returns the container's ID.
func Create(ctx context.Context, store cstorage.Store, opts RunOptions) (string, int, error) {
	var id string
	opts.Started = func(s string) { id = s }
	code, err := create(ctx, store, opts, true)
	return id, code, err
}

// create is run's body; with only it stops once the container exists.
func create(ctx context.Context, store cstorage.Store, opts RunOptions, only bool) (int, error) {
	// Check what needs no image first, so that bad input costs no pull.
	if err := ValidateName(opts.Name); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	netModes := opts.Networks
	if len(netModes) == 0 {
		netModes = []string{opts.Network}
	}
	netSettings, err := parseNetworks(store, netModes, userNetworkOptions{aliases: opts.NetworkAliases, ip: opts.IP, ip6: opts.IP6, mac: opts.MacAddress, endpoints: opts.Endpoints})
	if err != nil {
		return exec.ExitLodger, invalid(err)
	}
	network := netSettings.Mode
	// Syntax first, before any pull; -P needs the image.
	publish := opts.Publish
	if err := ports.Validate(publish); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	envOverrides, err := EnvOverrides(opts.EnvFiles, opts.Env)
	if err != nil {
		return exec.ExitLodger, invalid(err)
	}
	sec, err := parseSecurity(opts.Security)
	if err != nil {
		return exec.ExitLodger, invalid(err)
	}
	plan, err := opts.Mounts.plan()
	if err != nil {
		return exec.ExitLodger, invalid(err)
	}
	proc, err := parseProcess(opts.Process)
	if err != nil {
		return exec.ExitLodger, invalid(err)
	}
	if err := checkPullPolicy(opts.PullPolicy); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	if err := opts.Pull.CheckPlatform(); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	restart := opts.Restart
	if restart.Name != "" && opts.Remove {
		return exec.ExitLodger, invalid(errors.New("--restart and --rm conflict: a container removed at exit cannot be restarted"))
	}
	if restart.Name != "" && !opts.Detach && !only {
		return exec.ExitLodger, invalid(errors.New("--restart needs -d: the monitor that restarts a container runs detached"))
	}
	// Checked now, before any pull; labels= and env= pick their values
	// once the environment is known.
	if _, err := logfile.Parse(opts.LogDriver, opts.LogOpts, nil, nil); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	if _, err := opts.Health.config(nil); err != nil {
		return exec.ExitLodger, invalid(err)
	}
	// Every container but a plain foreground run's goes to a monitor
	// (create's, once started): a missing monitor program fails before
	// anything is pulled or created.
	if only || opts.Detach || opts.TTY || opts.NoSigProxy {
		if _, err := monitor.Path(); err != nil {
			return exec.ExitLodger, err
		}
	}
	var kid *keepID
	switch opts.Userns {
	case UsernsDefault:
	case UsernsKeepID:
		if kid, err = newKeepID(); err != nil {
			return exec.ExitLodger, err
		}
	default:
		return exec.ExitLodger, optionError(OptUserns, strconv.Quote(opts.Userns), "use keep-id (or leave it out for the default mapping)", nil)
	}
	if opts.Workdir != "" {
		if _, err := Workdir(imgspecv1.ImageConfig{}, opts.Workdir); err != nil {
			return exec.ExitLodger, invalid(fmt.Errorf("-w: %w", err))
		}
	}

	img, cfg, err := findOrPull(ctx, store, opts)
	if err != nil {
		return exec.ExitLodger, err
	}
	exposed, err := exposedPorts(cfg.Config.ExposedPorts, opts.Expose)
	if err != nil {
		return exec.ExitLodger, err
	}
	if err := netSettings.addPorts(publish, opts.PublishAll, exposed); err != nil {
		return exec.ExitLodger, err
	}
	// The host ports are taken now, before there is a record to leave
	// behind: a port in use fails the run here.
	var listeners []ports.Listener
	if !only {
		if listeners, err = netSettings.bindPorts(); err != nil {
			return exec.ExitLodger, err
		}
		defer func() { closeListeners(listeners) }()
	}
	args := Command(cfg.Config, opts.Entrypoint, opts.Args)
	if len(args) == 0 {
		return exec.ExitLodger, fmt.Errorf("no command: image %s has no Cmd or Entrypoint; give one after the image name", opts.Image)
	}
	env := MergeEnv(cfg.Config.Env, envOverrides)
	var imageHC *health.Config
	if !opts.Health.None && opts.Health.Cmd == "" {
		imageHC = storedHealthcheck(store, img.ID) // only read when it may count
	}
	healthcheck, err := opts.Health.config(imageHC)
	if err != nil {
		return exec.ExitLodger, err
	}
	logOpts, err := logfile.Parse(opts.LogDriver, opts.LogOpts, proc.labels, env)
	if err != nil {
		return exec.ExitLodger, err
	}
	wd, err := Workdir(cfg.Config, opts.Workdir)
	if err != nil {
		return exec.ExitLodger, fmt.Errorf("-w: %w", err)
	}
	userSpec := opts.User
	if userSpec == "" {
		userSpec = cfg.Config.User
	}
	if opts.User == "" && kid != nil {
		userSpec = fmt.Sprintf("%d:%d", kid.uid, kid.gid)
	}
	id := newID()
	name := opts.Name
	if name == "" {
		name = randomName()
	}
	// An interrupt while the image was found or pulled stops the run
	// here, before there is a container to forward it to (issue 12).
	if err := context.Cause(ctx); err != nil {
		return exec.ExitLodger, err
	}
	// Addresses on user networks are taken before the record exists, as
	// host ports are: a taken --ip fails the run here.
	for _, d := range opts.Process.DNS {
		if a, err := netip.ParseAddr(d); err == nil { // checked with the process options
			netSettings.DNS = append(netSettings.DNS, a)
		}
	}
	if err := netSettings.connectUser(store, id, name, opts.Hostname, opts.Remove); err != nil {
		return exec.ExitLodger, err
	}
	if !only {
		// A network's gateway starts while the rootfs is made, not
		// after it in the prestart (issue 14: the first container on a
		// new network).
		defer netSettings.warmUser(store, id)()
	}
	// The volumes stay claimed until the record naming them is written.
	claim, err := claimVolumes(store, plan)
	if err != nil {
		netSettings.releaseUser(store, id)
		return exec.ExitLodger, err
	}
	entrypoint, cmd := CommandParts(cfg.Config, opts.Entrypoint, opts.Args)
	expose, _ := exposedPorts(nil, opts.Expose) // checked above
	meta, _ := json.Marshal(Metadata{Image: opts.Image, ImageID: img.ID, Command: args, Created: time.Now().UTC(),
		Entrypoint: entrypoint, Cmd: cmd, Expose: slices.Sorted(maps.Keys(expose)), Limits: opts.Limits,
		Labels: proc.labels, StopSignal: proc.stopSignal, Volumes: claim.names(), Remove: opts.Remove, Interactive: opts.Interactive,
		StdinOnce: opts.StdinOnce && opts.Interactive, Restart: restart, StopTimeout: opts.StopTimeout, Log: &logOpts, Healthcheck: healthcheck, Network: &netSettings})
	ctr, err := store.CreateContainer(id, []string{name}, img.ID, "", string(meta), createOptions(kid, opts.Remove))
	claim.Release(err == nil)
	if err != nil {
		netSettings.releaseUser(store, id)
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return exec.ExitLodger, fmt.Errorf("container name %q: %w by another container; choose another --name or remove it", name, ErrNameInUse)
		}
		return exec.ExitLodger, fmt.Errorf("create container: %w", err)
	}
	if opts.Created != nil {
		opts.Created(id)
	}
	attrs := eventAttrs(opts.Image, name, proc.labels)
	Journal().Emit(events.Container, "create", id, attrs)
	handedOff := false // a monitor owns the container from here
	cleanup := func() {
		if handedOff {
			return
		}
		// The addresses on user networks are given up while storage
		// deletes the container: their record is written with an fsync,
		// which waits for whatever else is dirty on the graph root's
		// filesystem. A container whose delete fails has lost them; it
		// was to go, and rm removes it.
		if opts.Remove && removeContainer(store, id, ctr.LayerID, func() { netSettings.releaseUser(store, id) }) {
			_ = RemoveAnonymousVolumes(store, claim.names())
			Journal().Emit(events.Container, "destroy", id, attrs)
			return
		}
		_, _ = store.Unmount(id, true)
	}
	defer cleanup()

	rootfs, err := store.Mount(id, "")
	if err != nil {
		return exec.ExitLodger, fmt.Errorf("mount container rootfs: %w", err)
	}
	user, err := exec.ResolveUser(rootfs, userSpec)
	if err != nil {
		return exec.ExitLodger, err
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	hostname := opts.Hostname
	if hostname == "" {
		hostname = id[:12]
		if network == NetworkHost || opts.Process.UTS == "host" {
			hostname, _ = os.Hostname()
		}
	}
	env = append(env, "HOSTNAME="+hostname)
	if opts.TTY && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	runDir, err := store.ContainerRunDirectory(id)
	if err != nil {
		return exec.ExitLodger, err
	}
	// What start needs again after a reboot lives in the persistent
	// container directory; runDir holds only the runtime state.
	ctrDir, err := store.ContainerDirectory(id)
	if err != nil {
		return exec.ExitLodger, err
	}
	hosts, resolv := etcContent(hostname, netSettings, opts.Process, proc)
	mounts, err := writeEtcFiles(ctrDir, hostname, hosts, resolv)
	if err != nil {
		return exec.ExitLodger, err
	}
	if mounts, err = claim.mounts(plan, rootfs, user.User, mounts); err != nil {
		return exec.ExitLodger, err
	}

	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: opts.TTY,
			User:     user.User,
			Args:     args,
			Env:      env,
			Cwd:      wd,
		},
		Root:     &specs.Root{Path: rootfs, Readonly: plan.readOnly},
		Hostname: hostname,
		Mounts:   mounts,
		Linux:    &specs.Linux{Namespaces: opts.Process.namespaces(network), Sysctl: opts.Sysctls},
	}
	sec.apply(spec)
	if err := applyProcess(spec, opts.Process, proc, rootfs); err != nil {
		return exec.ExitLodger, err
	}
	if kid != nil {
		kid.apply(spec)
	}
	// start and exec begin from the container's own spec. It is written
	// while the network, log and cgroup are made ready: nothing changes
	// the spec from here on, and encoding/json's first pass over its
	// types costs a fresh process about 2 ms (issue 14). The run waits
	// for it before anything starts, and before the cleanup removes the
	// directory it is written in.
	specDone := make(chan error, 1)
	go func() { specDone <- saveSpec(ctrDir, spec) }()
	specSaved := sync.OnceValue(func() error { return <-specDone })
	defer func() { _ = specSaved() }() // a wait: the paths below check its error before the container starts
	if only {
		if err := specSaved(); err != nil {
			return exec.ExitLodger, err
		}
		if err := monitor.SaveState(runDir, monitor.State{Status: monitor.StatusCreated, BootID: monitor.BootID()}); err != nil {
			return exec.ExitLodger, err
		}
		handedOff = true // the container stays; only unmount it
		_, _ = store.Unmount(id, true)
		opts.Started(id)
		return 0, nil
	}
	// A terminal in the foreground goes through a monitor too, so that the
	// detach keys can leave the container running; so does a run that
	// does not proxy signals, which a signal leaves running.
	attach := (opts.TTY || opts.NoSigProxy) && !opts.Detach
	if !opts.Detach {
		// Docker's run attaches before it starts the container.
		Journal().Emit(events.Container, "attach", id, attrs)
	}
	mounted := emitVolumeMounts(id, spec, claim.names())
	if opts.Detach || attach {
		if err := specSaved(); err != nil {
			return exec.ExitLodger, err
		}
		err := startMonitor(store, opts.Storage, netSettings, monitor.Request{ID: id, Spec: spec, Remove: opts.Remove, Restart: restart,
			Log: logOpts, EventAttrs: attrs, Health: healthcheck, Interactive: opts.Interactive, Attached: attach, Limits: opts.Limits, Volumes: mounted}, listeners)
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.Code, err
			}
			return exec.ExitLodger, err
		}
		handedOff = true
		if attach {
			return attachRun(store, id, opts)
		}
		if opts.Started != nil {
			opts.Started(id)
		}
		return 0, nil
	}
	// In the foreground this process is the monitor: ps sees the container
	// running, and exited with an unknown code should lodger be killed.
	st := monitor.State{MonitorPid: os.Getpid(), BootID: monitor.BootID(), Remove: opts.Remove, Ports: published(listeners), Foreground: true}
	netCfg, netAtts, err := netSettings.userPlan(store, id)
	if err != nil {
		return exec.ExitLodger, err
	}
	keepCtx, stopKeep := context.WithCancel(context.Background())
	defer stopKeep()
	// A foreground run needs lodger-monitor only for user networks
	// (their gateway is one of its modes), and userPlan has found it
	// for those already.
	gatewayProgram, _ := monitor.Path()
	bridge.Keep(keepCtx, runDir, gatewayProgram, netAtts)
	netw, err := monitor.OpenNetwork(netCfg, listeners, bridge.ContainerNames(NetworkStore(store).Dir(), id, netSettings.DNS), func(format string, args ...any) {
		fmt.Fprintf(opts.Stderr, "lodger: "+format+"\n", args...)
	})
	listeners = nil // the network owns them now
	if err != nil {
		return exec.ExitLodger, err
	}
	if netw != nil {
		// This process exits right after the container: the TAP's
		// teardown goes to a helper nobody waits for.
		netw.SetLinger(func(f *os.File) error { return exec.Linger(f) })
	}
	// Docker logs every container, a foreground one too (issue 13): its
	// output goes to the terminal and, line by line, to the log.
	logPath, err := logFile(store, id)
	if err != nil {
		return exec.ExitLodger, err
	}
	log, err := logfile.Open(logPath, logOpts)
	if err != nil {
		return exec.ExitLodger, err
	}
	defer log.Close()
	if logOpts.Driver == logfile.None {
		log = nil // the output goes straight to the terminal
	}
	// The health check runs here as the monitor runs it; st is shared
	// with it until it stops, before the exit is recorded.
	var stmu sync.Mutex
	stopHealth := func() {}
	hooks, group, err := monitor.Limited(monitor.Hooks(netw, netAtts), id, opts.Limits)
	if err != nil {
		return exec.ExitLodger, err
	}
	defer group.Remove()
	if len(group.Dirs) > 0 {
		st.Cgroup = &group
	}
	if err := specSaved(); err != nil {
		return exec.ExitLodger, err
	}
	code, err := runProcess(spec, opts, log, hooks, func(pid int) {
		stmu.Lock()
		defer stmu.Unlock()
		st.Status, st.Pid, st.StartedAt = monitor.StatusRunning, pid, time.Now().UTC()
		if healthcheck != nil && healthcheck.Args() != nil {
			_ = monitor.ResetHealth(runDir) // starting, before the state says running
		}
		_ = monitor.SaveState(runDir, st)
		monitor.NetworkEvents(Journal(), "connect", id, netAtts)
		Journal().Emit(events.Container, "start", id, attrs)
		if healthcheck != nil {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				monitor.CheckHealth(ctx, *healthcheck, spec, pid, st.StartedAt, runDir, func(hs health.State) {
					Journal().Emit(events.Container, "health_status: "+hs.Status, id, attrs)
				})
			}()
			stopHealth = func() { cancel(); <-done }
		}
	})
	stopHealth()
	if st.OOMKilled = group.OOMKills() > 0; st.OOMKilled {
		Journal().Emit(events.Container, "oom", id, attrs) // before die, as Docker's
	}

	if netw != nil {
		// Closing a TAP costs the kernel an RCU grace period (~10 ms):
		// let it pass while the rootfs is unmounted and removed. What is
		// left when lodger exits, the exit finishes.
		go netw.Close()
	}
	if err == nil {
		die := maps.Clone(attrs)
		die["exitCode"] = strconv.Itoa(code)
		Journal().Emit(events.Container, "die", id, die)
		left := netAtts
		if cur, err := bridge.ReadAttachments(runDir); err == nil {
			left = cur // after any live connect or disconnect
		}
		monitor.NetworkEvents(Journal(), "disconnect", id, left)
		monitor.VolumeUnmounts(Journal(), id, mounted)
	}
	if !opts.Remove {
		st.Status, st.Pid, st.FinishedAt = monitor.StatusExited, 0, time.Now().UTC()
		if err == nil {
			st.ExitCode = &code
		}
		_ = monitor.SaveState(runDir, st)
	}
	return code, err
}

// Pull policies, as podman's --pull.
const (
	PullMissing = "missing" // pull when no local image matches (default)
	PullAlways  = "always"  // pull every time
	PullNewer   = "newer"   // pull every time; layers already present are not fetched again
	PullNever   = "never"   // only local images
)

func checkPullPolicy(p string) error {
	switch p {
	case "", PullMissing, PullAlways, PullNewer, PullNever:
		return nil
	}
	return optionError(OptPull, strconv.Quote(p), "use missing, always, newer or never", nil)
}

// findOrPull returns the image to run and its configuration, which the
// platform check needs and the caller uses (read once: it is on the
// start-up path).
func findOrPull(ctx context.Context, store cstorage.Store, opts RunOptions) (*cstorage.Image, *imgspecv1.Image, error) {
	img, cfg, err := findLocal(ctx, store, opts.Image, opts.PullPolicy, opts.Pull)
	if err != nil || img != nil {
		return img, cfg, err
	}
	po := opts.Pull
	po.Progress = opts.PullProgress
	if opts.PullFunc == nil {
		return nil, nil, fmt.Errorf("%s: %w", opts.Image, ErrNoPull)
	}
	id, err := opts.PullFunc(ctx, store, opts.Image, po)
	if err != nil {
		return nil, nil, err
	}
	EmitPull(opts.Image, id)
	img, err = store.Image(id)
	if err != nil {
		return nil, nil, err
	}
	cfg, err = image.Config(ctx, store, img.ID)
	if err != nil {
		return nil, nil, err
	}
	return img, cfg, nil
}

// runProcess runs spec in the foreground with hooks; started, when set, learns the
// process's pid once it runs. With log, the output goes through pipes and
// is copied to the user's stdout and stderr and to the log.
func runProcess(spec *specs.Spec, opts RunOptions, log *logfile.Writer, hooks exec.Hooks, started func(pid int)) (int, error) {
	stdio := exec.Stdio{Out: opts.Stdout, Err: opts.Stderr}
	if opts.Interactive {
		stdio.In = opts.Stdin
	}
	var wg sync.WaitGroup
	var readers []*os.File
	if log != nil && !spec.Process.Terminal {
		// lodger now writes the container's output itself: a closed
		// stdout (lodger run ... | head -1) must fail that write, not kill
		// lodger with SIGPIPE as Go does for fd 1 and 2, which would leave
		// the container's exit unknown and a --rm container behind. A
		// handler, unlike SIG_IGN, is not inherited by the container.
		sigpipe := make(chan os.Signal, 1)
		signal.Notify(sigpipe, unix.SIGPIPE)
		defer signal.Stop(sigpipe)
		for _, s := range []struct {
			name string
			to   *os.File
			set  **os.File
		}{{"stdout", opts.Stdout, &stdio.Out}, {"stderr", opts.Stderr, &stdio.Err}} {
			r, w, err := os.Pipe()
			if err != nil {
				return exec.ExitLodger, err
			}
			defer r.Close()
			defer w.Close()
			*s.set = w
			readers = append(readers, r)
			wg.Add(1)
			go func() {
				defer wg.Done()
				logfile.Copy(log, s.name, io.TeeReader(r, &passOn{w: s.to}))
				// The user's end is closed: so is the container's, which
				// then sees the broken pipe it saw before lodger logged.
				r.Close()
			}()
		}
	}
	p, err := exec.Start(spec, stdio, hooks)
	if len(readers) > 0 {
		// Only the container holds the write ends now: the copies end
		// when it and whatever it left behind are gone.
		stdio.Out.Close()
		stdio.Err.Close()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.Code, err
		}
		return exec.ExitLodger, err
	}
	if started != nil {
		started(p.Pid())
	}
	done := make(chan struct{})
	if console := p.Console(); console != nil {
		restore := proxyTerminal(console, opts, &wg)
		defer restore()
	}
	go func() {
		for {
			select {
			case s := <-opts.Signals:
				if s == unix.SIGWINCH {
					if c := p.Console(); c != nil {
						resize(c, opts.Stdin)
					}
					continue
				}
				_ = p.Signal(s)
			case ws := <-opts.Resize:
				if c := p.Console(); c != nil {
					_ = unix.IoctlSetWinsize(int(c.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: ws[0], Col: ws[1]})
				}
			case <-done:
				return
			}
		}
	}()
	code, err := p.Wait()
	close(done)
	// As the monitor's: with --pid host a child left behind may hold the
	// pipes for ever, so the wait for the last output is bounded.
	if len(readers) == 0 {
		waitTimeout(&wg, time.Second)
	} else if !waitTimeout(&wg, 2*time.Second) {
		for _, r := range readers {
			r.Close()
		}
		waitTimeout(&wg, time.Second)
	}
	return code, err
}

// passOn writes to the user's stdout or stderr; once that fails (a closed
// pipe: lodger run ... | head -1) the copy ends, after logging what was
// read, and closes the container's pipe, so that the container meets the
// broken pipe it met when it wrote to the user's stdout itself.
type passOn struct {
	w io.Writer
}

// Write says it took all of b even when it fails, so that io.TeeReader
// hands what it read to the log with the error.
func (p *passOn) Write(b []byte) (int, error) {
	_, err := p.w.Write(b)
	return len(b), err
}

// proxyTerminal copies between the user's terminal and the pty master and
// puts the user's terminal in raw mode; the returned func restores it.
func proxyTerminal(console *os.File, opts RunOptions, wg *sync.WaitGroup) func() {
	restore := func() {}
	if term.IsTerminal(int(opts.Stdin.Fd())) {
		resize(console, opts.Stdin)
		if opts.Interactive {
			if st, err := term.MakeRaw(int(opts.Stdin.Fd())); err == nil {
				restore = func() { _ = term.Restore(int(opts.Stdin.Fd()), st) }
			}
		}
	}
	if opts.Interactive {
		go func() { _, _ = io.Copy(console, opts.Stdin) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Reading the master ends with EIO once the process and every
		// holder of the slave are gone.
		_, _ = io.Copy(opts.Stdout, console)
	}()
	return restore
}

func resize(console, from *os.File) {
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, ws)
}

// waitTimeout waits for wg at most d and says whether it is done.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}

// writeEtcFiles writes the /etc/hosts, /etc/hostname and /etc/resolv.conf
// lodger provides and returns the bind mounts that put them in place.
func writeEtcFiles(dir, hostname, hosts, resolv string) ([]specs.Mount, error) {
	files := []struct{ name, content string }{
		{"hosts", hosts},
		{"hostname", hostname + "\n"},
		{"resolv.conf", resolv},
	}
	var mounts []specs.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + f.name, Type: "bind", Source: p, Options: []string{"bind"}})
	}
	return mounts, nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	adjectives = strings.Fields("brave calm eager fond gentle happy jolly keen lively merry nimble proud quiet swift tidy witty bold bright clever daring")
	nouns      = strings.Fields("badger crane dolphin falcon gecko heron ibis jackal koala lemur marten newt otter panda quail raven stoat tapir vole wren")
)

func randomName() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%s_%02x", adjectives[int(b[0])%len(adjectives)], nouns[int(b[1])%len(nouns)], b[2])
}
