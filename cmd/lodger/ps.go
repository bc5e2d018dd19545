package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// networkMode is the container's network as ps's NETWORKS column.
func networkMode(m container.Metadata) string { return m.NetworkName() }

type psOptions struct {
	all     bool
	quiet   bool
	last    int
	latest  bool
	noTrunc bool
	size    bool
	filters []string
	format  string
}

// psRow is one container in `lodger ps`.
type psRow struct {
	ID, Name, Image, ImageID, Command string
	Created                           time.Time
	State, Status                     string
	Labels                            map[string]string
	Volumes                           []string
	Ports                             []ports.Mapping
	Network                           string
	Size, Virtual                     int64 // the writable layer; it and the image
}

// defaultPsFormat is the table ps prints, in Docker's template terms.
const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"

func newPsCommand() *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List containers (running ones; -a for all)",
		Long: `List containers, newest first: the running ones, or with -a, -n, -l or a
status filter every one.

--filter KEY=VALUE (repeatable) keeps the containers that match: id=PREFIX,
name=REGEXP, label=KEY or label=KEY=VALUE, status=created|running|exited,
ancestor=IMAGE (name, ID or ID prefix), network=NAME or ID,
health=starting|healthy|unhealthy|none, exited=CODE (an exit filter lists
stopped containers without -a). Values of one key are alternatives,
except labels, which must all match; different keys must all match, as in
Docker.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each container, or "table TEMPLATE" for a template with
a header. Fields: {{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.CreatedAt}}
{{.RunningFor}} {{.Ports}} {{.Status}} {{.State}} {{.Size}} {{.Labels}}
{{.Label "KEY"}} {{.Mounts}} {{.Networks}} {{.LocalVolumes}}; functions
json, join, split, lower, upper, title, truncate, pad and println.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := container.ParseFilters(o.filters)
			if err != nil {
				return err
			}
			def := defaultPsFormat
			if o.size {
				def += "\t{{.Size}}" // Docker's SIZE column of ps -s
			}
			pf, err := format.Parse(o.format, def, psHeaders)
			if err != nil {
				return err
			}
			if o.quiet && o.format != "" && o.format != "table" {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			rows, err := listRows(store, o, f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.quiet {
				for _, r := range rows {
					fmt.Fprintln(out, shortID(r.ID, !o.noTrunc))
				}
				return nil
			}
			views := make([]any, len(rows))
			for i, r := range rows {
				if o.size || strings.Contains(o.format, ".Size") || pf.JSON() {
					r.Size, err = store.ContainerSize(r.ID)
					if err != nil {
						r.Size = -1
					} else if n, err := store.ImageSize(r.ImageID); err == nil {
						r.Virtual = r.Size + n
					}
				}
				views[i] = psView{r: r, trunc: !o.noTrunc}
			}
			return pf.Write(out, views)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "list stopped containers too")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "print container IDs only")
	fl.IntVarP(&o.last, "last", "n", -1, "list the N containers created last, whatever their state")
	fl.BoolVarP(&o.latest, "latest", "l", false, "list the container created last, whatever its state")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	fl.StringArrayVarP(&o.filters, "filter", "f", nil, "keep containers that match KEY=VALUE (see above)")
	fl.BoolVarP(&o.size, "size", "s", false, "show the size of each container's writable layer")
	fl.StringVar(&o.format, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

// listRows lists the containers o and f select, newest first.
func listRows(store cstorage.Store, o psOptions, f container.Filter) ([]psRow, error) {
	infos, err := container.List(store)
	if err != nil {
		return nil, err
	}
	f.ResolveAncestors(func(ref string) (string, error) {
		img, err := image.Lookup(store, ref, image.Options{})
		if err != nil {
			return "", err
		}
		return img.ID, nil
	})
	limit := o.last
	if o.latest && limit <= 0 {
		limit = 1
	}
	all := o.all || limit > 0 || f.HasStatus()
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].Metadata.Created.After(infos[j].Metadata.Created) })
	rows := []psRow{}
	for _, in := range infos {
		if !all && in.State.Status != monitor.StatusRunning || !f.Match(in) {
			continue
		}
		if limit > 0 && len(rows) == limit {
			break
		}
		rows = append(rows, psRow{
			ID: in.ID, Name: in.Name, Image: in.Metadata.Image, ImageID: in.ImageID,
			Command: strings.Join(in.Metadata.Command, " "), Created: in.Metadata.Created,
			State: psState(in.State), Status: in.State.StatusText(),
			Labels: in.Metadata.Labels, Volumes: in.Metadata.Volumes, Network: networkMode(in.Metadata),
		})
		if in.State.Status == monitor.StatusRunning {
			rows[len(rows)-1].Ports = in.State.Ports
		}
	}
	return rows, nil
}

// psState is Docker's State column: a paused container reads paused.
func psState(st monitor.State) string {
	if st.Status == monitor.StatusRunning && st.Paused {
		return "paused"
	}
	return st.Status
}

func shortID(id string, trunc bool) string {
	if trunc && len(id) > 12 {
		return id[:12]
	}
	return id
}

// psHeaders are ps's column titles, Docker's.
var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Names": "NAMES", "Name": "NAME", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
	"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
	"Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

// psView is a row as templates see it, with Docker's field names.
type psView struct {
	r     psRow
	trunc bool
}

func (v psView) ID() string       { return shortID(v.r.ID, v.trunc) }
func (v psView) Names() string    { return v.r.Name }
func (v psView) Name() string     { return v.r.Name }
func (v psView) Image() string    { return v.r.Image }
func (v psView) State() string    { return v.r.State }
func (v psView) Status() string   { return v.r.Status }
func (v psView) Networks() string { return v.r.Network }

// Ports is the bound ports as Docker's column: "0.0.0.0:8080->80/tcp".
func (v psView) Ports() string {
	var out []string
	for _, p := range v.r.Ports {
		out = append(out, fmt.Sprintf("%s->%d/%s", p.Host(), p.ContainerPort, p.Protocol))
	}
	return strings.Join(out, ", ")
}

// Size is the writable layer's size and, as Docker's, with the image's
// the "virtual" one: "2.05kB (virtual 4.27MB)".
func (v psView) Size() string {
	if v.r.Size < 0 {
		return "N/A"
	}
	s := units.HumanSizeWithPrecision(float64(v.r.Size), 3)
	if v.r.Virtual > 0 {
		s += " (virtual " + units.HumanSizeWithPrecision(float64(v.r.Virtual), 3) + ")"
	}
	return s
}

// Command is quoted, and cut to 20 characters unless --no-trunc, as in
// Docker.
func (v psView) Command() string {
	c := v.r.Command
	if v.trunc {
		c = format.Truncate(c, 20)
	}
	return strconv.Quote(c)
}

func (v psView) CreatedAt() string {
	return v.r.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}

func (v psView) RunningFor() string {
	return units.HumanDuration(time.Since(v.r.Created)) + " ago"
}

// Labels is KEY=VALUE pairs, sorted, joined with commas.
func (v psView) Labels() string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(v.r.Labels)) {
		kv = append(kv, k+"="+v.r.Labels[k])
	}
	return strings.Join(kv, ",")
}

func (v psView) Label(key string) string { return v.r.Labels[key] }
func (v psView) Mounts() string          { return strings.Join(v.r.Volumes, ",") }
func (v psView) LocalVolumes() string    { return strconv.Itoa(len(v.r.Volumes)) }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v psView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": v.ID(), "Names": v.Names(), "Image": v.Image(), "Command": v.Command(),
		"CreatedAt": v.CreatedAt(), "RunningFor": v.RunningFor(), "Status": v.Status(),
		"State": v.State(), "Labels": v.Labels(), "Mounts": v.Mounts(), "Ports": v.Ports(),
		"Networks": v.Networks(), "LocalVolumes": v.LocalVolumes(), "Size": v.Size(),
	})
}
