package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

type psOptions struct {
	all    bool
	quiet  bool
	format string
}

// psRow is one container in `lodger ps`, and its JSON form.
type psRow struct {
	ID       string    `json:"Id"`
	Name     string    `json:"Name"`
	Image    string    `json:"Image"`
	Command  string    `json:"Command"`
	Created  time.Time `json:"Created"`
	State    string    `json:"State"`
	Status   string    `json:"Status"`
	ExitCode *int      `json:"ExitCode,omitempty"`
}

func newPsCommand() *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List containers (running ones; -a for all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "" && o.format != "table" && o.format != "json" {
				return fmt.Errorf("--format %q: use table or json", o.format)
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			infos, err := container.List(store)
			if err != nil {
				return err
			}
			rows := []psRow{}
			for _, in := range infos {
				if !o.all && in.State.Status != container.StatusRunning {
					continue
				}
				rows = append(rows, psRow{in.ID, in.Name, in.Metadata.Image, strings.Join(in.Metadata.Command, " "),
					in.Metadata.Created, in.State.Status, in.State.StatusText(), in.State.ExitCode})
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
			out := cmd.OutOrStdout()
			switch {
			case o.format == "json":
				return json.NewEncoder(out).Encode(rows)
			case o.quiet:
				for _, r := range rows {
					fmt.Fprintln(out, r.ID[:12])
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%q\t%s ago\t%s\t%s\n", r.ID[:12], r.Image, r.Command, units.HumanDuration(time.Since(r.Created)), r.Status, r.Name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "list stopped containers too")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print container IDs only")
	cmd.Flags().StringVar(&o.format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}
