package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/volume"
)

func newVolumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Long: `Manage named volumes: directories under the graph root
(<graphroot>/volumes/NAME/_data) that outlive the containers that mount
them with -v NAME:/path or --mount type=volume.`,
	}
	cmd.AddCommand(
		newVolumeCreateCommand(),
		newVolumeLsCommand(),
		newVolumeInspectCommand(),
		newVolumeRmCommand(),
		newVolumePruneCommand(),
	)
	return cmd
}

// withVolumes opens storage and runs fn with its volumes.
func withVolumes(fn func(*volume.Store) error) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	defer store.Shutdown(false)
	return fn(container.VolumeStore(store))
}

func newVolumeCreateCommand() *cobra.Command {
	var labels []string
	var driver string
	cmd := &cobra.Command{
		Use:   "create [flags] [NAME]",
		Short: "Create a volume and print its name",
		Long: `Create a volume and print its name; without NAME it gets a random one.
Creating a volume that exists already returns it, as Docker does.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != volume.DriverLocal {
				return fmt.Errorf("--driver %q: lodger has only the local driver", driver)
			}
			l := map[string]string{}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				if k == "" {
					return fmt.Errorf("--label %q: want KEY=VALUE", kv)
				}
				l[k] = v
			}
			if len(l) == 0 {
				l = nil
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return withVolumes(func(vs *volume.Store) error {
				v, err := vs.Create(name, l)
				if err != nil {
					return fmt.Errorf("create volume %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), v.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label KEY=VALUE on the volume")
	cmd.Flags().StringVarP(&driver, "driver", "d", volume.DriverLocal, "volume driver (only local)")
	return sessionCommand(cmd, 1)
}

func newVolumeLsCommand() *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" && format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			return withVolumes(func(vs *volume.Store) error {
				vols, err := vs.List()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch {
				case format == "json":
					return writeVolumesJSON(out, vols)
				case quiet:
					for _, v := range vols {
						fmt.Fprintln(out, v.Name)
					}
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
				for _, v := range vols {
					fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print volume names only")
	cmd.Flags().StringVar(&format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}

func writeVolumesJSON(w io.Writer, vols []volume.Volume) error {
	if vols == nil {
		vols = []volume.Volume{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(vols)
}

func newVolumeInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect VOLUME [VOLUME...]",
		Short: "Show volumes as a JSON array",
		Args:  minArgs(1, "VOLUME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withVolumes(func(vs *volume.Store) error {
				var vols []volume.Volume
				var errs []error
				for _, name := range args {
					v, err := vs.Get(name)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					vols = append(vols, v)
				}
				if err := writeVolumesJSON(cmd.OutOrStdout(), vols); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	return sessionCommand(cmd, 1)
}

func newVolumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [flags] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes",
		Long: `Remove volumes and their files. A volume a container uses is never
removed: remove the container first. -f makes a missing volume no error.`,
		Args: minArgs(1, "VOLUME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withVolumes(func(vs *volume.Store) error {
				var errs []error
				for _, name := range args {
					if err := vs.Remove(name, force); err != nil {
						errs = append(errs, fmt.Errorf("remove %w", err))
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "no error for a volume that does not exist")
	return sessionCommand(cmd, 1)
}

func newVolumePruneCommand() *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused anonymous volumes (with -a, all unused volumes)",
		Long: `Remove the anonymous volumes no container uses; with --all, every volume
no container uses, named ones too (Docker 23 and later behave the same).
Asks first unless -f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				what := "anonymous local volumes"
				if all {
					what = "all local volumes"
				}
				if !confirm(cmd, "This will remove "+what+" not used by at least one container.") {
					return nil
				}
			}
			return withVolumes(func(vs *volume.Store) error {
				p, err := vs.Prune(all)
				printPruned(cmd.OutOrStdout(), "Volumes", p.Names, p.Bytes)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too, not only anonymous ones")
	return sessionCommand(cmd, 1)
}
