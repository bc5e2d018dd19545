package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/internal/prunefilter"
	"github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/storage"
)

func newNetworkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Long: `Manage user networks: a kernel bridge in a network namespace of your own,
one veth per container, so that containers on one network reach each
other by name, alias and short ID, kernel to kernel. lodger's userspace
stack is the network's gateway: the way out (NAT, unless --internal) and
the resolver. Containers join with run/create --network NAME or connect.

Every network ls lists Docker's predefined networks too: bridge (lodger's
default per-container network, --network netstack), host and none.`,
	}
	cmd.AddCommand(
		newNetworkCreateCommand(),
		newNetworkLsCommand(),
		newNetworkInspectCommand(),
		newNetworkRmCommand(),
		newNetworkPruneCommand(),
		newNetworkConnectCommand(),
		newNetworkDisconnectCommand(),
	)
	return cmd
}

// withNetworks runs fn with the user networks of the graph root. Storage
// is opened only should fn's records need it (container.Networks).
func withNetworks(fn func(*network.Store) error) error {
	o, err := storeOptions()
	if err != nil {
		return err
	}
	root, err := filepath.Abs(o.GraphRoot)
	if err != nil {
		return err
	}
	var store cstorage.Store
	var openErr error
	opened := false
	defer func() {
		if store != nil {
			store.Shutdown(false)
		}
	}()
	return fn(container.Networks(root, func() (cstorage.Store, error) {
		if !opened {
			opened = true
			store, openErr = storage.Open(o)
		}
		return store, openErr
	}))
}

// withStore opens storage and runs fn with it.
func withStore(fn func(cstorage.Store) error) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	defer store.Shutdown(false)
	return fn(store)
}

// parseKV reads repeated KEY=VALUE flags into a map (nil for none).
func parseKV(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// parseFilterFlags reads --filter KEY=VALUE into a map of alternatives.
func parseFilterFlags(fs []string) (map[string][]string, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	m := map[string][]string{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE", f)
		}
		m[k] = append(m[k], v)
	}
	return m, nil
}

// parsePruneFilters reads a prune's --filter values: the keys allowed
// of until, label and label!, and others the caller reads from rest.
func parsePruneFilters(fs []string, allowed ...string) (prunefilter.Filter, map[string][]string, error) {
	m, err := parseFilterFlags(fs)
	if err != nil {
		return prunefilter.Filter{}, nil, err
	}
	f, rest, err := prunefilter.Parse(m, allowed...)
	if err != nil {
		return prunefilter.Filter{}, nil, fmt.Errorf("--filter: %w", err)
	}
	return f, rest, nil
}

func newNetworkCreateCommand() *cobra.Command {
	var subnets, gateways, ranges, labels, opts, aux []string
	var o network.CreateOptions
	cmd := &cobra.Command{
		Use:   "create [flags] NAME",
		Short: "Create a network and print its ID",
		Long: `Create a user network and print its ID.

Without --subnet the network gets the first free /24 of 10.89.0.0/16 (and
with --ipv6 a /64 of fd4c:6f64:6765::/48). --subnet (IPv4 and, with
--ipv6, IPv6, once each) picks it; --gateway and --ip-range, given in the
same order, set the gateway (default: the subnet's first address) and the
range addresses are picked from. Overlapping another network's subnet is
refused. --internal: no way out of the network (names still resolve).
--opt mtu=N (or Docker's com.docker.network.driver.mtu=N) sets the links'
MTU (default 65520). Of Docker's other bridge options,
com.docker.network.bridge.name is accepted and ignored (the bridge lives in
the network's own namespace), enable_icc=true and enable_ip_masquerade=true
are what lodger does anyway; any other option is refused.`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			var err error
			if o.Labels, err = parseKV("label", labels); err != nil {
				return err
			}
			if o.Options, err = parseKV("opt", opts); err != nil {
				return err
			}
			if len(gateways) > len(subnets) || len(ranges) > len(subnets) {
				return errors.New("--gateway and --ip-range go with a --subnet: give the subnet first")
			}
			for i, s := range subnets {
				var so network.SubnetOptions
				if so.Subnet, err = netip.ParsePrefix(s); err != nil {
					return fmt.Errorf("--subnet %q: want CIDR, such as 10.90.0.0/24", s)
				}
				if i < len(gateways) {
					if so.Gateway, err = netip.ParseAddr(gateways[i]); err != nil {
						return fmt.Errorf("--gateway %q: want an IP address", gateways[i])
					}
				}
				if i < len(ranges) {
					if so.IPRange, err = netip.ParsePrefix(ranges[i]); err != nil {
						return fmt.Errorf("--ip-range %q: want CIDR", ranges[i])
					}
				}
				o.Subnets = append(o.Subnets, so)
			}
			// --aux-address goes with the --subnet that holds it, as
			// Docker's CLI pairs them.
			for _, kv := range aux {
				name, v, _ := strings.Cut(kv, "=")
				a, err := netip.ParseAddr(v)
				if name == "" || err != nil {
					return fmt.Errorf("--aux-address %q: want NAME=IP", kv)
				}
				i := slices.IndexFunc(o.Subnets, func(so network.SubnetOptions) bool { return so.Subnet.Contains(a) })
				if i < 0 {
					return fmt.Errorf("--aux-address %s: in no --subnet given", kv)
				}
				if o.Subnets[i].AuxAddresses == nil {
					o.Subnets[i].AuxAddresses = map[string]netip.Addr{}
				}
				o.Subnets[i].AuxAddresses[name] = a
			}
			return withNetworks(func(ns *network.Store) error {
				n, err := ns.Create(o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), n.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", network.DriverBridge, "network driver (only bridge)")
	f.StringArrayVar(&subnets, "subnet", nil, "subnet in CIDR form (one IPv4, one IPv6)")
	f.StringArrayVar(&gateways, "gateway", nil, "gateway of the subnet given in the same place")
	f.StringArrayVar(&ranges, "ip-range", nil, "range of the subnet container addresses are picked from")
	f.StringArrayVar(&aux, "aux-address", nil, "NAME=IP of a --subnet that no container is given")
	f.BoolVar(&o.Internal, "internal", false, "no route out of the network")
	f.BoolVar(&o.Attachable, "attachable", false, "recorded as Docker's Attachable (a local network is always attachable)")
	f.BoolVar(&o.IPv6, "ipv6", false, "give the network an IPv6 subnet too")
	f.StringArrayVar(&labels, "label", nil, "set a label KEY=VALUE on the network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "driver option KEY=VALUE: mtu=N or com.docker.network.driver.mtu=N (see above)")
	return sessionCommand(cmd, 1)
}

func newNetworkLsCommand() *cobra.Command {
	var quiet, noTrunc bool
	var formatValue string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Long: `List networks: Docker's predefined bridge (lodger's default network),
host and none, and every user network.

--filter KEY=VALUE (repeatable; values of one key are alternatives, but
every label given must hold, as in Docker): name=PART, id=PART (all or
part of the name or ID, a regular expression as Docker's daemon reads
it: name=^web$ is web alone), driver=NAME, label=KEY or label=KEY=VALUE,
type=builtin|custom, scope=local, dangling=true|false. --format is table (the default), json, a Go template, or
"table TEMPLATE". Fields: {{.ID}} {{.Name}} {{.Driver}} {{.Scope}}
{{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label "KEY"}} {{.CreatedAt}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilterFlags(filters)
			if err != nil {
				return err
			}
			pf, err := format.Parse(formatValue, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", networkHeaders)
			if err != nil {
				return err
			}
			return withNetworks(func(ns *network.Store) error {
				nets, err := ns.List(network.ListOptions{Filters: f})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				views := make([]any, len(nets))
				for i, n := range nets {
					views[i] = networkView{n: n, trunc: !noTrunc}
					if quiet {
						fmt.Fprintln(out, networkView{n: n, trunc: !noTrunc}.ID())
					}
				}
				if quiet {
					return nil
				}
				return pf.Write(out, views)
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print network IDs only")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "print whole IDs")
	cmd.Flags().StringVar(&formatValue, "format", "", "table, json, a Go template, or table TEMPLATE")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "keep networks that match KEY=VALUE (see above)")
	return sessionCommand(cmd, 1)
}

// networkHeaders are network ls's column titles, Docker's.
var networkHeaders = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "Label": "LABEL", "CreatedAt": "CREATED AT",
}

// networkView is a network as network ls templates see it, Docker's
// fields.
type networkView struct {
	n     network.Network
	trunc bool
}

func (v networkView) ID() string {
	if v.trunc {
		return v.n.ID[:12]
	}
	return v.n.ID
}
func (v networkView) Name() string     { return v.n.Name }
func (v networkView) Driver() string   { return v.n.Driver }
func (v networkView) Scope() string    { return "local" }
func (v networkView) IPv6() string     { return fmt.Sprint(v.n.EnableIPv6) }
func (v networkView) IPv4() string     { return fmt.Sprint(v.n.Inspect().EnableIPv4) }
func (v networkView) Internal() string { return fmt.Sprint(v.n.Internal) }
func (v networkView) CreatedAt() string {
	if v.n.Created.IsZero() {
		return ""
	}
	return v.n.Created.Format("2006-01-02 15:04:05.999999999 -0700 MST")
}

// Labels is KEY=VALUE pairs, sorted, joined with commas.
func (v networkView) Labels() string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(v.n.Labels)) {
		kv = append(kv, k+"="+v.n.Labels[k])
	}
	return strings.Join(kv, ",")
}

func (v networkView) Label(key string) string { return v.n.Labels[key] }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v networkView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": v.ID(), "Name": v.Name(), "Driver": v.Driver(), "Scope": v.Scope(), "IPv4": v.IPv4(), "IPv6": v.IPv6(),
		"Internal": v.Internal(), "Labels": v.Labels(), "CreatedAt": v.CreatedAt(),
	})
}

func newNetworkInspectCommand() *cobra.Command {
	var formatValue string
	cmd := &cobra.Command{
		Use:   "inspect [flags] NETWORK [NETWORK...]",
		Short: "Show networks in Docker's inspect schema",
		Long: `Show networks as Docker's network inspect does, as a JSON array or through
a Go template (--format): .Name, .Id, .Driver, .Scope, .IPAM.Config,
.Internal, .EnableIPv6, .Labels, .Options, .Containers.`,
		Args: minArgs(1, "NETWORK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withNetworks(func(ns *network.Store) error {
				var items []any
				var errs []error
				for _, name := range args {
					n, err := ns.Get(name)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					if n.Predefined && n.Name == network.Bridge {
						// Its containers are the default network's, from storage.
						err := withStore(func(store cstorage.Store) error {
							items = append(items, container.InspectNetwork(store, n))
							return nil
						})
						if err != nil {
							errs = append(errs, err)
						}
						continue
					}
					items = append(items, n.Inspect())
				}
				if err := writeInspect(cmd.OutOrStdout(), formatValue, items); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringVarP(&formatValue, "format", "f", "", inspectFormatHelp)
	return sessionCommand(cmd, 1)
}

func newNetworkRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [flags] NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks",
		Long: `Remove user networks. A network with containers on it is refused, naming
them: remove or disconnect them first. -f makes a missing network no
error.`,
		Args: minArgs(1, "NETWORK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withNetworks(func(ns *network.Store) error {
				var errs []error
				for _, name := range args {
					if err := ns.Remove(name, force); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "no error for a network that does not exist")
	return sessionCommand(cmd, 1)
}

func newNetworkPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every user network no container is on",
		Long: `Remove every user network no container is on. --filter label=KEY[=VALUE],
label!=KEY[=VALUE] and until=DURATION|TIME narrow it. Asks first unless -f
is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := parsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			if !force && !confirm(cmd, "This will remove all custom networks not used by at least one container.") {
				return nil
			}
			return withNetworks(func(ns *network.Store) error {
				names, err := ns.Prune(f)
				printDeleted(cmd.OutOrStdout(), "Networks", names)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, pruneFilterUsage)
	return sessionCommand(cmd, 1)
}

func newNetworkConnectCommand() *cobra.Command {
	var o container.NetworkConnectOptions
	var ip, ip6 string
	cmd := &cobra.Command{
		Use:   "connect [flags] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Long: `Connect a container to a user network: it gets an address there (--ip,
--ip6, or the next free one) and, when running, its interface at once
(the next free ethN), found on the network by its name, short ID and
--alias names. A container on the default network (bridge) keeps it as
eth0, its way out; one with --network host cannot be connected.`,
		Args: exactArgs(2, "NETWORK CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if ip != "" {
				if o.IPv4, err = netip.ParseAddr(ip); err != nil || !o.IPv4.Is4() {
					return fmt.Errorf("--ip %q: want an IPv4 address", ip)
				}
			}
			if ip6 != "" {
				if o.IPv6, err = netip.ParseAddr(ip6); err != nil || !o.IPv6.Is6() {
					return fmt.Errorf("--ip6 %q: want an IPv6 address", ip6)
				}
			}
			return withStore(func(store cstorage.Store) error {
				return container.NetworkConnect(store, args[0], args[1], o)
			})
		},
	}
	cmd.Flags().StringArrayVar(&o.Aliases, "alias", nil, "another name the container is found by on the network")
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address on the network")
	cmd.Flags().StringVar(&ip6, "ip6", "", "IPv6 address on the network")
	return sessionCommand(cmd, 1)
}

func newNetworkDisconnectCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [flags] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Long: `Disconnect a container from a user network: its address there is given
back and, when running, its interface removed at once. -f: no error for
a container already gone.`,
		Args: exactArgs(2, "NETWORK CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(store cstorage.Store) error {
				return container.NetworkDisconnect(store, args[0], args[1], force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "no error for a container that does not exist")
	return sessionCommand(cmd, 1)
}
