package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/docker/reference"

	"github.com/lodger-containers/lodger/imagepull"
)

type imagesOptions struct {
	all     bool
	quiet   bool
	digests bool
	noTrunc bool
	filters []string
	format  string
}

// imageRow is one line of `lodger images`, and its JSON form.
type imageRow struct {
	ID         string    `json:"Id"`
	Repository string    `json:"Repository"`
	Tag        string    `json:"Tag"`
	Names      []string  `json:"Names"`
	Digest     string    `json:"Digest"`
	Created    time.Time `json:"Created"`
	Size       int64     `json:"Size"`
}

func newImagesCommand() *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     "images [flags]",
		Aliases: []string{"image-list"},
		Short:   "List images in local storage",
		Long: `List images in local storage, newest first, one line per name. Images
without a name show as <none>; those that are only the base of other images
(intermediate images) are listed with -a only.

--filter KEY=VALUE (repeatable) keeps the images that match:
dangling=true|false (without a name, or with one), reference=PATTERN (a
name, short as docker shows it or in full, with * and ? matching within
one path component), label=KEY or label=KEY=VALUE, before=IMAGE and
since=IMAGE (created before or after that image). Values of reference are
alternatives, labels must all match, and different keys must all match,
as in Docker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "" && o.format != "table" && o.format != "json" {
				return fmt.Errorf("--format %q: use table or json", o.format)
			}
			f, err := imagepull.ParseImageFilters(o.filters)
			if err != nil {
				return err
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			if err := f.Resolve(store); err != nil {
				return err
			}
			imgs, err := imagepull.List(cmd.Context(), store, f.HasLabels())
			if err != nil {
				return err
			}
			var rows []imageRow
			for _, img := range imgs {
				if img.Intermediate() && !o.all {
					continue
				}
				if names, ok := f.Match(img); ok {
					rows = append(rows, imageRows(img, names)...)
				}
			}
			out := cmd.OutOrStdout()
			id := func(id string) string {
				if o.noTrunc {
					return "sha256:" + id
				}
				return id[:12]
			}
			switch {
			case o.format == "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if rows == nil {
					rows = []imageRow{}
				}
				return enc.Encode(rows)
			case o.quiet:
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(out, id(r.ID))
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			header := []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}
			if o.digests {
				header = []string{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"}
			}
			fmt.Fprintln(tw, strings.Join(header, "\t"))
			for _, r := range rows {
				cols := []string{r.Repository, r.Tag}
				if o.digests {
					d := r.Digest
					if d == "" {
						d = "<none>"
					}
					cols = append(cols, d)
				}
				cols = append(cols, id(r.ID), units.HumanDuration(time.Since(r.Created))+" ago",
					units.HumanSizeWithPrecision(float64(r.Size), 3))
				fmt.Fprintln(tw, strings.Join(cols, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "show intermediate images too")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().BoolVar(&o.digests, "digests", false, "show manifest digests")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "show full image IDs")
	cmd.Flags().StringArrayVarP(&o.filters, "filter", "f", nil, "keep images that match KEY=VALUE (dangling, reference, label, before, since; repeatable)")
	cmd.Flags().StringVar(&o.format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}

// imageRows gives one row per name shown (one for an unnamed image).
func imageRows(img imagepull.Summary, names []string) []imageRow {
	base := imageRow{ID: img.ID, Names: img.Names, Digest: img.Digest, Created: img.Created, Size: img.Size}
	if len(names) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		return []imageRow{r}
	}
	var rows []imageRow
	for _, n := range names {
		r := base
		r.Repository, r.Tag = splitName(n)
		rows = append(rows, r)
	}
	return rows
}

func splitName(n string) (string, string) {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return n, "<none>"
	}
	if t, ok := named.(reference.Tagged); ok {
		return named.Name(), t.Tag()
	}
	return named.Name(), "<none>"
}
