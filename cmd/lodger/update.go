package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

// updateOptions are Docker's update flags.
type updateOptions struct {
	blkioWeight                   uint16
	cpuPeriod, cpuQuota           int64
	cpuRtPeriod, cpuRtRuntime     int64
	cpuShares                     int64
	cpus                          float64
	cpusetCpus, cpusetMems        string
	memory, memoryRes, memorySwap string
	pidsLimit                     int64
	restart                       string
}

// resourceFlags are the update flags that ask for a resource limit.
var resourceFlags = []string{"memory", "memory-reservation", "memory-swap", "cpus", "cpu-shares", "cpu-period", "cpu-quota",
	"cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight"}

func newUpdateCommand() *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER [CONTAINER...]",
		Short: "Change the restart policy and resource limits of containers",
		Long: `Change containers' restart policy and resource limits, as Docker's update.
--restart applies to the next exit of a running detached container (its
monitor follows the new policy) and to every later start. --memory, --cpus
and --pids-limit are written into a running container's own cgroups, which
it has where run found those controllers delegated to you (lodger info
says which), and kept for later starts; a limit that cannot be applied,
and every other resource flag, fails naming why and changes nothing.`,
		Args: minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			uo, given, err := o.options(cmd.Flags())
			if err != nil {
				return err
			}
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				err := container.Update(store, ref, uo)
				if errors.Is(err, container.ErrLimitsNotApplied) {
					return fmt.Errorf("%s: %w", strings.Join(given, ", "), err)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000 (0 disables)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "CPU CFS period, in microseconds")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "CPU CFS quota, in microseconds")
	f.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "CPU real-time period, in microseconds")
	f.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "CPU real-time runtime, in microseconds")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Float64Var(&o.cpus, "cpus", 0, "number of CPUs")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "memory nodes in which to allow execution (0-3, 0,1)")
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit (units b, k, m, g)")
	f.StringVar(&o.memoryRes, "memory-reservation", "", "memory soft limit")
	f.StringVar(&o.memorySwap, "memory-swap", "", "memory plus swap limit: -1 for unlimited swap")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "process limit (-1 for unlimited)")
	f.StringVar(&o.restart, "restart", "", "restart policy: no, on-failure[:N], always, unless-stopped")
	return sessionCommand(cmd, 1)
}

// options turns the flags given into the library's options, and names
// the resource flags among them for the error that refuses them.
func (o *updateOptions) options(flags *pflag.FlagSet) (container.UpdateOptions, []string, error) {
	var uo container.UpdateOptions
	var given []string
	for _, n := range resourceFlags {
		if flags.Changed(n) {
			given = append(given, "--"+n)
		}
	}
	if len(given) == 0 && !flags.Changed("restart") {
		return uo, nil, errors.New("you must provide one or more flags when using this command")
	}
	if flags.Changed("restart") {
		p, err := parseRestart(o.restart)
		if err != nil {
			return uo, nil, err
		}
		uo.Restart = &p
	}
	r := &uo.Resources
	bytes := func(name, v string) (int64, error) {
		if !flags.Changed(name) {
			return 0, nil
		}
		if name == "memory-swap" && v == "-1" {
			return -1, nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil {
			return 0, fmt.Errorf("--%s %q: %w", name, v, err)
		}
		return n, nil
	}
	var err error
	if r.Memory, err = bytes("memory", o.memory); err != nil {
		return uo, nil, err
	}
	if r.MemoryReservation, err = bytes("memory-reservation", o.memoryRes); err != nil {
		return uo, nil, err
	}
	if r.MemorySwap, err = bytes("memory-swap", o.memorySwap); err != nil {
		return uo, nil, err
	}
	if flags.Changed("cpus") {
		if o.cpus <= 0 {
			return uo, nil, fmt.Errorf("--cpus %v: must be more than 0", o.cpus)
		}
		r.NanoCPUs = int64(o.cpus * 1e9)
	}
	if flags.Changed("pids-limit") {
		n := o.pidsLimit
		r.PidsLimit = &n
	}
	r.BlkioWeight = o.blkioWeight
	r.CPUPeriod, r.CPUQuota = o.cpuPeriod, o.cpuQuota
	r.CPURealtimePeriod, r.CPURealtimeRuntime = o.cpuRtPeriod, o.cpuRtRuntime
	r.CPUShares = o.cpuShares
	r.CpusetCpus, r.CpusetMems = o.cpusetCpus, o.cpusetMems
	return uo, given, nil
}
