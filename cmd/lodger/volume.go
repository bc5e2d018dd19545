package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
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
	var formatValue string
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Long: `List volumes.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each volume, or "table TEMPLATE" for a template with a
header. Fields: {{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}}
{{.Labels}} {{.Label "KEY"}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := format.Parse(formatValue, "table {{.Driver}}\t{{.Name}}", volumeHeaders)
			if err != nil {
				return err
			}
			return withVolumes(func(vs *volume.Store) error {
				vols, err := vs.List()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if quiet {
					for _, v := range vols {
						fmt.Fprintln(out, v.Name)
					}
					return nil
				}
				views := make([]any, len(vols))
				for i, v := range vols {
					views[i] = volumeView{v.Report()}
				}
				return pf.Write(out, views)
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print volume names only")
	cmd.Flags().StringVar(&formatValue, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

// volumeHeaders are volume ls's column titles, Docker's.
var volumeHeaders = map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Label": "LABEL", "Links": "LINKS", "Size": "SIZE",
}

// volumeView is a volume as volume ls templates see it, Docker's fields.
type volumeView struct{ v volume.InspectReport }

func (v volumeView) Name() string       { return v.v.Name }
func (v volumeView) Driver() string     { return v.v.Driver }
func (v volumeView) Scope() string      { return v.v.Scope }
func (v volumeView) Mountpoint() string { return v.v.Mountpoint }
func (v volumeView) Links() string      { return "N/A" }
func (v volumeView) Size() string       { return "N/A" }

// Labels is KEY=VALUE pairs, sorted, joined with commas.
func (v volumeView) Labels() string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(v.v.Labels)) {
		kv = append(kv, k+"="+v.v.Labels[k])
	}
	return strings.Join(kv, ",")
}

func (v volumeView) Label(key string) string { return v.v.Labels[key] }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v volumeView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Name": v.Name(), "Driver": v.Driver(), "Scope": v.Scope(), "Mountpoint": v.Mountpoint(),
		"Labels": v.Labels(), "Links": v.Links(), "Size": v.Size(),
	})
}

func newVolumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] VOLUME [VOLUME...]",
		Short: "Show volumes in Docker's inspect schema",
		Long: `Show volumes as Docker's volume inspect does, as a JSON array or through
a Go template (--format): .Name, .Driver, .Mountpoint, .CreatedAt,
.Labels, .Scope, .Options.`,
		Args: minArgs(1, "VOLUME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withVolumes(func(vs *volume.Store) error {
				var items []any
				var errs []error
				for _, name := range args {
					v, err := vs.Get(name)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					items = append(items, v.Report())
				}
				if err := writeInspect(cmd.OutOrStdout(), format, items); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
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
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused anonymous volumes (with -a, all unused volumes)",
		Long: `Remove the anonymous volumes no container uses; with --all, every volume
no container uses, named ones too (Docker 23 and later behave the same).
--filter label=KEY[=VALUE] and label!=KEY[=VALUE] narrow it. Asks first
unless -f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := parsePruneFilters(filters, "label", "label!")
			if err != nil {
				return err
			}
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
				p, err := vs.Prune(all, f)
				printPruned(cmd.OutOrStdout(), "Volumes", p.Names, p.Bytes)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too, not only anonymous ones")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "prune only volumes that match label=KEY[=VALUE] or label!=KEY[=VALUE] (repeatable)")
	return sessionCommand(cmd, 1)
}
