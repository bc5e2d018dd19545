package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/storage"
)

type runOptions struct {
	pullFlags
	remove      bool
	interactive bool
	tty         bool
	env         []string
	envFiles    []string
	workdir     string
	user        string
	entrypoint  string
	name        string
	hostname    string
	networks    []string
	netAliases  []string
	ip, ip6     string
	mac         string
	publish     []string
	publishAll  bool
	quiet       bool
	privileged  bool
	capAdd      []string
	capDrop     []string
	securityOpt []string
	process     container.ProcessOptions
	userns      string
	mounts      mountFlags
	labels      []string
	detach      bool
	restart     string
	logOpts     []string
	logDriver   string
	health      container.HealthOptions
	detachKeys  string
	pullPolicy  string
	sigProxy    bool
	everyday    everydayOptions
}

func newRunCommand() *cobra.Command {
	return newRunLikeCommand(false)
}

// newCreateCommand is run's twin that stops once the container exists.
func newCreateCommand() *cobra.Command {
	return newRunLikeCommand(true)
}

func newRunLikeCommand(createOnly bool) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Long: `Run a command in a new container, pulling the image first if it is not
in local storage. lodger exits with the container's exit code; 125 when
lodger itself fails, 126 when the command cannot be executed, 127 when it is
not found, 128+N when signal N killed it.`,
		Args: minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			so, err := storeOptions()
			if err != nil {
				return err
			}
			store, err := storage.Open(so)
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			if !isTransfer {
				// lodger does not pull: when run would, lodger-transfer
				// carries out the whole command, from the start (before
				// --cidfile's file or the container exist).
				must, err := container.MustPull(cmd.Context(), store, args[0], o.pullPolicy, o.options(cmd.Flags()))
				if err == nil && must {
					_, _ = store.Shutdown(false)
					return handOff()
				}
			}
			caught, stop := forwardSignals()
			defer stop()
			ctx, cancel := context.WithCancelCause(cmd.Context())
			defer cancel(nil)
			sigs, stopRelay := relayInterrupts(caught, cancel)
			defer stopRelay()
			ro := container.RunOptions{
				Image:          args[0],
				Args:           args[1:],
				Env:            o.env,
				EnvFiles:       o.envFiles,
				Workdir:        o.workdir,
				User:           o.user,
				Name:           o.name,
				Hostname:       o.hostname,
				Network:        firstOf(o.networks),
				Networks:       o.networks,
				NetworkAliases: o.netAliases,
				IP:             o.ip,
				IP6:            o.ip6,
				MacAddress:     o.mac,
				PublishAll:     o.publishAll,
				Interactive:    o.interactive,
				// Docker's run sets it when it attaches the input; create
				// -i does not.
				StdinOnce:  o.interactive && !o.detach && !createOnly,
				TTY:        o.tty,
				Remove:     o.remove,
				Process:    o.process,
				Userns:     o.userns,
				Detach:     o.detach,
				LogOpts:    o.logOpts,
				LogDriver:  o.logDriver,
				Health:     o.health,
				DetachKeys: o.detachKeys,
				PullPolicy: o.pullPolicy,
				PullFunc:   pullFunc,
				Storage:    so,
				Started:    func(id string) { fmt.Fprintln(cmd.OutOrStdout(), id) },
				Security: container.SecurityOptions{
					Privileged:  o.privileged,
					CapAdd:      o.capAdd,
					CapDrop:     o.capDrop,
					SecurityOpt: o.securityOpt,
				},
				Pull:       o.options(cmd.Flags()),
				Signals:    sigs,
				NoSigProxy: !o.sigProxy,
				Stdin:      os.Stdin,
				Stdout:     os.Stdout,
				Stderr:     os.Stderr,
			}
			if !o.quiet {
				ro.PullProgress = os.Stderr
			}
			if cmd.Flags().Changed("entrypoint") {
				ro.Entrypoint = []string{o.entrypoint}
			}
			if err := o.typed(&ro); err != nil {
				return &exitCodeError{Code: exec.ExitLodger, Err: err}
			}
			if err := o.everyday.apply(cmd.Flags(), &ro, cmd.ErrOrStderr()); err != nil {
				return &exitCodeError{Code: exec.ExitLodger, Err: err}
			}
			defer o.everyday.finish()
			if createOnly {
				ro.Started = nil
				id, code, err := container.Create(ctx, store, ro)
				if err != nil && interrupted(ctx) {
					return interruptedExit(ctx, "create "+args[0], err)
				}
				if err != nil {
					return processExit(code, withBudgetHint(err))
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			}
			code, err := container.Run(ctx, store, ro)
			if detachedBySignal(err) {
				return &exitCodeError{Code: code}
			}
			if err != nil && interrupted(ctx) {
				return interruptedExit(ctx, "run "+args[0], err)
			}
			return processExit(code, withBudgetHint(err))
		},
	}
	f := cmd.Flags()
	// Everything after the image belongs to the container.
	f.SetInterspersed(false)
	o.register(f)
	f.BoolVar(&o.remove, "rm", false, "remove the container when it exits")
	f.StringVar(&o.pullPolicy, "pull", "missing", "pull the image: missing (when not in local storage), always, newer, never")
	f.StringVar(&o.restart, "restart", "no", "restart policy of a detached container: no, on-failure[:N], always, unless-stopped")
	f.StringVar(&o.detachKeys, "detach-keys", "", "keys that detach from run -it, leaving the container running (default ctrl-p,ctrl-q)")
	f.StringVar(&o.health.Cmd, "health-cmd", "", "command (run with /bin/sh -c in the container) whose exit 0 says the container is healthy")
	f.DurationVar(&o.health.Interval, "health-interval", 0, "time between health checks (default 30s)")
	f.DurationVar(&o.health.Timeout, "health-timeout", 0, "time a health check may take before it counts as failed (default 30s)")
	f.DurationVar(&o.health.StartPeriod, "health-start-period", 0, "time the container has to start, in which failed checks do not count")
	f.DurationVar(&o.health.StartInterval, "health-start-interval", 0, "time between health checks in the start period (default 5s)")
	f.IntVar(&o.health.Retries, "health-retries", 0, "failures in a row that make the container unhealthy (default 3)")
	f.BoolVar(&o.health.None, "no-healthcheck", false, "run no health check")
	f.StringVar(&o.logDriver, "log-driver", "json-file", "where the output is kept: json-file (Docker's format), k8s-file (podman's) or none")
	f.StringArrayVar(&o.logOpts, "log-opt", nil, "log option: max-size=SIZE caps the log file, max-file=N files are kept (default 2 with max-size), labels=K1,K2 and env=V1,V2 (and labels-regex=, env-regex=) add those values to each line's details")
	if createOnly {
		cmd.Use = "create [flags] IMAGE [COMMAND [ARG...]]"
		cmd.Short = "Create a container to start later (run's flags)"
		cmd.Long = "Create a container from an image and print its ID; lodger start runs it."
	} else {
		f.BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the container ID")
		f.BoolVar(&o.sigProxy, "sig-proxy", true, "pass the signals lodger receives to the container; false: SIGINT, SIGTERM or SIGHUP detach lodger, leaving the container running")
	}
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and pass it to the container")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass lodger's own)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file of KEY=VALUE lines")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container (created if missing)")
	f.StringVarP(&o.user, "user", "u", "", "user to run as: NAME|UID[:GROUP|GID], resolved in the image")
	f.StringVar(&o.entrypoint, "entrypoint", "", "override the image's entrypoint (\"\" clears it)")
	f.StringVar(&o.name, "name", "", "name of the container")
	f.StringVar(&o.hostname, "hostname", "", "container host name (default: the short container id)")
	f.StringArrayVar(&o.networks, "network", nil, "network: netstack[:mtu=N,allow_host_loopback=true,...] (the default, also called bridge: userspace, NAT to the host; bypass=true and accept_bypass=true hand TCP the host's sockets, as host does), none, host, or the NAME of a user network (repeatable: one interface each; bridge with user networks gives the default network as eth0 and the user networks after it)")
	f.StringArrayVar(&o.netAliases, "network-alias", nil, "another name the container is found by on its (first) user network")
	f.StringVar(&o.ip, "ip", "", "IPv4 address on the (first) user network")
	f.StringVar(&o.ip6, "ip6", "", "IPv6 address on the (first) user network")
	f.StringVar(&o.mac, "mac-address", "", "MAC address on the (first) user network")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a container port on the host: [IP:][HOSTPORT:]CTRPORT[/tcp|/udp], ranges allowed")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "publish every port the image EXPOSEs on a free host port")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no pull progress")
	f.BoolVar(&o.privileged, "privileged", false, "every capability of your user namespace, no seccomp filter, no masked paths")
	f.StringSliceVar(&o.capAdd, "cap-add", nil, "add a capability to the default set (or ALL)")
	f.StringSliceVar(&o.capDrop, "cap-drop", nil, "drop a capability from the default set (or ALL)")
	f.StringArrayVar(&o.securityOpt, "security-opt", nil, "no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json")
	f.StringVar(&o.userns, "userns", "", "user namespace: keep-id runs as your own uid and gid, so bind-mounted files keep their owner")
	registerMountFlags(f, &o.mounts)
	registerEverydayFlags(f, &o.everyday)
	p := &o.process
	f.BoolVar(&p.Init, "init", false, "run a minimal init as pid 1 that forwards signals and reaps zombies")
	f.StringArrayVar(&p.Ulimits, "ulimit", nil, "resource limit NAME=SOFT[:HARD] (nofile, nproc, core, ...); only lowering works rootless")
	f.StringVar(&p.StopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM)")
	f.StringArrayVar(&p.AddHosts, "add-host", nil, "add HOST:IP to /etc/hosts")
	f.StringArrayVar(&p.DNS, "dns", nil, "DNS server for /etc/resolv.conf (on a user network: the network's resolver stays, and asks this server for other names)")
	f.StringArrayVar(&p.DNSSearch, "dns-search", nil, "DNS search domain for /etc/resolv.conf")
	f.StringArrayVar(&p.DNSOptions, "dns-option", nil, "option line entry for /etc/resolv.conf")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "set a label KEY=VALUE on the container")
	f.StringArrayVar(&p.Annotations, "annotation", nil, "set an OCI annotation KEY=VALUE")
	f.StringVar(&p.PID, "pid", "", "pid namespace: host shares the session's, default a new one")
	f.StringVar(&p.IPC, "ipc", "", "ipc namespace: host or a new one (default)")
	f.StringVar(&p.UTS, "uts", "", "uts namespace: host or a new one (default)")
	f.StringVar(&p.Cgroupns, "cgroupns", "", "cgroup namespace: private (default: the container's own) or host (the session's)")
	f.StringArrayVar(&p.GroupAdd, "group-add", nil, "add a supplementary group (name from the image's /etc/group, or a number)")
	return sessionCommand(cmd, exec.ExitLodger)
}

// typed parses the flags whose grammar is the CLI's (-p, --restart,
// --label, the mounts) into the library's typed options, as the API
// server turns its JSON into the same.
func (o *runOptions) typed(ro *container.RunOptions) error {
	var err error
	if ro.Publish, err = ports.Parse(o.publish); err != nil {
		return err
	}
	if ro.Restart, err = parseRestart(o.restart); err != nil {
		return err
	}
	if ro.Process.Labels, err = keyValues("--label", o.labels); err != nil {
		return err
	}
	mo, err := o.mounts.options()
	if err != nil {
		return err
	}
	ro.Mounts.List = append(mo.List, ro.Mounts.List...)
	ro.Mounts.ReadOnly, ro.Mounts.ReadOnlyTmpfs, ro.Mounts.ShmSize = mo.ReadOnly, mo.ReadOnlyTmpfs, mo.ShmSize
	return nil
}

// keyValues parses KEY=VALUE flag values; VALUE may be empty.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// firstOf is the first value of a repeated flag, or "".
func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
