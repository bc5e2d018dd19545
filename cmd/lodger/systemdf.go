//go:build lodger_transfer

package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/build"
	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
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
	var formatValue string
	cmd := &cobra.Command{
		Use:   systemDfDoc.use,
		Short: systemDfDoc.short,
		Long: `Show the disk space lodger's images, containers and local volumes take,
as docker system df does. ACTIVE images are those a container uses, active
containers are running, active volumes are mounted by a container. An
image's size counts each layer once however many images share it;
RECLAIMABLE is what image prune -a, container prune and volume prune -a
would free. Build Cache is the directories of RUN --mount=type=cache
(ACTIVE: in use by a build); the images of build steps are counted among
the images. builder prune reclaims it.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each line, or "table TEMPLATE" for a template with a
header. Fields: {{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}
{{.Reclaimable}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := format.Parse(formatValue, defaultDfFormat, dfHeaders)
			if err != nil {
				return err
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			iu, err := image.DiskUsage(store)
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
			bu, err := build.DiskUsage(store)
			if err != nil {
				return err
			}
			rows := []any{
				dfView{dfRow{"Images", iu.Total, iu.Active, iu.Size, iu.Reclaimable}},
				dfView{dfRow{"Containers", cu.Total, cu.Active, cu.Size, cu.Reclaimable}},
				dfView{dfRow{"Local Volumes", vu.Total, vu.Active, vu.Size, vu.Reclaimable}},
				dfView{dfRow{"Build Cache", bu.Total, bu.Active, bu.Size, bu.Reclaimable}},
			}
			return pf.Write(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&formatValue, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

const defaultDfFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

// dfHeaders are the column titles, Docker's.
var dfHeaders = map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE",
	"Size": "SIZE", "Reclaimable": "RECLAIMABLE"}

// dfView is a line of system df as templates see it, Docker's fields.
type dfView struct{ r dfRow }

func (v dfView) Type() string        { return v.r.Type }
func (v dfView) TotalCount() string  { return strconv.Itoa(v.r.Total) }
func (v dfView) Active() string      { return strconv.Itoa(v.r.Active) }
func (v dfView) Size() string        { return units.HumanSize(float64(v.r.Size)) }
func (v dfView) Reclaimable() string { return reclaimable(v.r) }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v dfView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"Type": v.Type(), "TotalCount": v.TotalCount(),
		"Active": v.Active(), "Size": v.Size(), "Reclaimable": v.Reclaimable()})
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
