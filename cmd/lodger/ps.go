package main

import (
	"encoding/json"
	"fmt"
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

func newPsCommand() *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List containers",
		Long: `List containers. Until detached containers exist (see the lifecycle
work), every container lodger knows has exited; -a lists them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			ctrs, err := store.Containers()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			type row struct {
				ID      string    `json:"Id"`
				Name    string    `json:"Name"`
				Image   string    `json:"Image"`
				Command string    `json:"Command"`
				Created time.Time `json:"Created"`
			}
			var rows []row
			if o.all {
				for _, c := range ctrs {
					var m container.Metadata
					_ = json.Unmarshal([]byte(c.Metadata), &m)
					rows = append(rows, row{c.ID, firstName(c.Names), m.Image, strings.Join(m.Command, " "), c.Created})
				}
			}
			switch {
			case o.format == "json":
				if rows == nil {
					rows = []row{}
				}
				return json.NewEncoder(out).Encode(rows)
			case o.format != "" && o.format != "table":
				return fmt.Errorf("--format %q: use table or json", o.format)
			case o.quiet:
				for _, r := range rows {
					fmt.Fprintln(out, r.ID[:12])
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%q\t%s ago\tExited\t%s\n", r.ID[:12], r.Image, r.Command, units.HumanDuration(time.Since(r.Created)), r.Name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "list stopped containers too")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print container IDs only")
	cmd.Flags().StringVar(&o.format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}
