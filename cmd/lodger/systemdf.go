package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/imagepull"
)

// dfRow is one line of `system df`, and its JSON form.
type dfRow struct {
	Type        string `json:"Type"`
	Total       int    `json:"Total"`
	Active      int    `json:"Active"`
	Size        int64  `json:"Size"`
	Reclaimable int64  `json:"Reclaimable"`
}

func newSystemDfCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df [flags]",
		Short: "Show the disk space images, containers and volumes take",
		Long: `Show the disk space lodger's images, containers and local volumes take,
as docker system df does. ACTIVE images are those a container uses, active
containers are running, active volumes are mounted by a container. An
image's size counts each layer once however many images share it;
RECLAIMABLE is what image prune -a, container prune and volume prune -a
would free.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" && format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			iu, err := imagepull.DiskUsage(store)
			if err != nil {
				return err
			}
			cu, err := container.DiskUsage(store)
			if err != nil {
				return err
			}
			vu, err := container.VolumeStore(store).DiskUsage()
			if err != nil {
				return err
			}
			rows := []dfRow{
				{"Images", iu.Total, iu.Active, iu.Size, iu.Reclaimable},
				{"Containers", cu.Total, cu.Active, cu.Size, cu.Reclaimable},
				{"Local Volumes", vu.Total, vu.Active, vu.Size, vu.Reclaimable},
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, units.HumanSize(float64(r.Size)), reclaimable(r))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}

// reclaimable is Docker's RECLAIMABLE column: the size, and its share of
// the total when there is one.
func reclaimable(r dfRow) string {
	s := units.HumanSize(float64(r.Reclaimable))
	if r.Size > 0 {
		s += fmt.Sprintf(" (%d%%)", r.Reclaimable*100/r.Size)
	}
	return s
}
