package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/imagepull"
)

type psOptions struct {
	all     bool
	quiet   bool
	last    int
	latest  bool
	noTrunc bool
	filters []string
	format  string
}

// psRow is one container in `lodger ps`, and its JSON form.
type psRow struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Image    string            `json:"Image"`
	ImageID  string            `json:"ImageID"`
	Command  string            `json:"Command"`
	Created  time.Time         `json:"Created"`
	State    string            `json:"State"`
	Status   string            `json:"Status"`
	ExitCode *int              `json:"ExitCode,omitempty"`
	Labels   map[string]string `json:"Labels,omitempty"`
	Volumes  []string          `json:"Volumes,omitempty"`
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
ancestor=IMAGE (name, ID or ID prefix). Values of one key are alternatives,
except labels, which must all match; different keys must all match, as in
Docker.

--format is table (the default), json (an array), a Go template over each
container, or "table TEMPLATE" for a template with a header. Fields:
{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.CreatedAt}} {{.RunningFor}}
{{.Status}} {{.State}} {{.Labels}} {{.Label "KEY"}} {{.Mounts}} {{.Ports}};
functions json, join, split, lower, upper, title, truncate and pad.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := container.ParseFilters(o.filters)
			if err != nil {
				return err
			}
			var p *psPrinter
			if !o.quiet && o.format != "json" {
				if p, err = newPsPrinter(o.format, !o.noTrunc); err != nil {
					return err
				}
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
			switch {
			case o.quiet:
				for _, r := range rows {
					fmt.Fprintln(out, shortID(r.ID, !o.noTrunc))
				}
				return nil
			case o.format == "json":
				return json.NewEncoder(out).Encode(rows)
			}
			return p.print(out, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "list stopped containers too")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "print container IDs only")
	fl.IntVarP(&o.last, "last", "n", -1, "list the N containers created last, whatever their state")
	fl.BoolVarP(&o.latest, "latest", "l", false, "list the container created last, whatever its state")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	fl.StringArrayVarP(&o.filters, "filter", "f", nil, "keep containers that match KEY=VALUE (see above)")
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
		img, err := imagepull.Lookup(store, ref, imagepull.Options{})
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
			State: in.State.Status, Status: in.State.StatusText(), ExitCode: in.State.ExitCode,
			Labels: in.Metadata.Labels, Volumes: in.Metadata.Volumes,
		})
	}
	return rows, nil
}

func shortID(id string, trunc bool) string {
	if trunc && len(id) > 12 {
		return id[:12]
	}
	return id
}

// psPrinter renders rows through a Go template, as Docker's --format.
type psPrinter struct {
	tmpl  *template.Template
	table bool
	trunc bool
}

func newPsPrinter(format string, trunc bool) (*psPrinter, error) {
	if format == "" || format == "table" {
		format = defaultPsFormat
	}
	text, table := strings.CutPrefix(format, "table")
	if table {
		text = strings.TrimLeft(text, " ")
	}
	// Docker reads \t and \n typed on a command line as tab and newline.
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return &psPrinter{tmpl: tmpl, table: table, trunc: trunc}, nil
}

func (p *psPrinter) print(out io.Writer, rows []psRow) error {
	w := out
	var tw *tabwriter.Writer
	if p.table {
		tw = tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		w = tw
		if err := p.line(w, psHeader{}); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := p.line(w, psView{r: r, trunc: p.trunc}); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func (p *psPrinter) line(w io.Writer, v any) error {
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// psView is a row as templates see it, with Docker's field names.
type psView struct {
	r     psRow
	trunc bool
}

func (v psView) ID() string     { return shortID(v.r.ID, v.trunc) }
func (v psView) Names() string  { return v.r.Name }
func (v psView) Name() string   { return v.r.Name }
func (v psView) Image() string  { return v.r.Image }
func (v psView) State() string  { return v.r.State }
func (v psView) Status() string { return v.r.Status }
func (v psView) Ports() string  { return "" }

// Command is quoted, and cut to 20 characters unless --no-trunc, as in
// Docker.
func (v psView) Command() string {
	c := v.r.Command
	if v.trunc && utf8.RuneCountInString(c) > 20 {
		c = string([]rune(c)[:19]) + "…"
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

// MarshalJSON makes {{json .}} print the fields templates see.
func (v psView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": v.ID(), "Names": v.Names(), "Image": v.Image(), "Command": v.Command(),
		"CreatedAt": v.CreatedAt(), "RunningFor": v.RunningFor(), "Status": v.Status(),
		"State": v.State(), "Labels": v.Labels(), "Mounts": v.Mounts(), "Ports": v.Ports(),
	})
}

// psHeader gives each field its column title, for "table TEMPLATE".
type psHeader struct{}

func (psHeader) ID() string            { return "CONTAINER ID" }
func (psHeader) Names() string         { return "NAMES" }
func (psHeader) Name() string          { return "NAME" }
func (psHeader) Image() string         { return "IMAGE" }
func (psHeader) State() string         { return "STATE" }
func (psHeader) Status() string        { return "STATUS" }
func (psHeader) Ports() string         { return "PORTS" }
func (psHeader) Command() string       { return "COMMAND" }
func (psHeader) CreatedAt() string     { return "CREATED AT" }
func (psHeader) RunningFor() string    { return "CREATED" }
func (psHeader) Labels() string        { return "LABELS" }
func (psHeader) Label(_ string) string { return "LABEL" }
func (psHeader) Mounts() string        { return "MOUNTS" }

// templateFuncs are Docker's template functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		words := strings.Fields(s)
		for i, w := range words {
			r, n := utf8.DecodeRuneInString(w)
			words[i] = strings.ToUpper(string(r)) + w[n:]
		}
		return strings.Join(words, " ")
	},
	"truncate": func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
}
