package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/docker/reference"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/image"
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
	Containers int       `json:"Containers"`
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
as in Docker.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each line, or "table TEMPLATE" for a template with a
header. Fields: {{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}
{{.CreatedSince}} {{.CreatedAt}} {{.Size}} {{.Containers}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			def := defaultImagesFormat
			if o.digests {
				def = defaultImagesDigestsFormat
			}
			pf, err := format.Parse(o.format, def, imagesHeaders)
			if err != nil {
				return err
			}
			f, err := image.ParseImageFilters(o.filters)
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
			imgs, err := image.List(cmd.Context(), store, f.HasLabels())
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
			views := make([]any, len(rows))
			for i, r := range rows {
				views[i] = imageView{r: r, noTrunc: o.noTrunc}
			}
			return pf.Write(out, views)
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "show intermediate images too")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().BoolVar(&o.digests, "digests", false, "show manifest digests")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "show full image IDs")
	cmd.Flags().StringArrayVarP(&o.filters, "filter", "f", nil, "keep images that match KEY=VALUE (dangling, reference, label, before, since; repeatable)")
	cmd.Flags().StringVar(&o.format, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

const (
	defaultImagesFormat        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	defaultImagesDigestsFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

// imagesHeaders are the column titles, Docker's.
var imagesHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

// imageView is a line of images as templates see it, Docker's fields.
type imageView struct {
	r       imageRow
	noTrunc bool
}

func (v imageView) ID() string {
	if v.noTrunc {
		return "sha256:" + v.r.ID
	}
	return shortID(v.r.ID, true)
}
func (v imageView) Repository() string { return v.r.Repository }
func (v imageView) Tag() string        { return v.r.Tag }
func (v imageView) Digest() string {
	if v.r.Digest == "" {
		return "<none>"
	}
	return v.r.Digest
}
func (v imageView) CreatedSince() string {
	return units.HumanDuration(time.Since(v.r.Created)) + " ago"
}
func (v imageView) CreatedAt() string {
	return v.r.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
func (v imageView) Size() string        { return units.HumanSizeWithPrecision(float64(v.r.Size), 3) }
func (v imageView) VirtualSize() string { return v.Size() }
func (v imageView) SharedSize() string  { return "N/A" }
func (v imageView) UniqueSize() string  { return "N/A" }
func (v imageView) Containers() string  { return strconv.Itoa(v.r.Containers) }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v imageView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": v.ID(), "Repository": v.Repository(), "Tag": v.Tag(), "Digest": v.Digest(),
		"CreatedSince": v.CreatedSince(), "CreatedAt": v.CreatedAt(), "Size": v.Size(),
		"VirtualSize": v.VirtualSize(), "SharedSize": v.SharedSize(), "UniqueSize": v.UniqueSize(),
		"Containers": v.Containers(),
	})
}

// imageRows gives one row per name shown (one for an unnamed image).
func imageRows(img image.Summary, names []string) []imageRow {
	base := imageRow{ID: img.ID, Names: img.Names, Digest: img.Digest, Created: img.Created, Size: img.Size, Containers: img.Containers}
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
