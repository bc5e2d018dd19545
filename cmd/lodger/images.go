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
	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

type imagesOptions struct {
	quiet  bool
	format string
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
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			imgs, err := store.Images()
			if err != nil {
				return err
			}
			rows := imageRows(store, imgs)
			out := cmd.OutOrStdout()
			switch {
			case o.format == "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if rows == nil {
					rows = []imageRow{}
				}
				return enc.Encode(rows)
			case o.format != "" && o.format != "table":
				return fmt.Errorf("--format %q: use table or json", o.format)
			case o.quiet:
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(out, r.ID[:12])
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID[:12],
					units.HumanDuration(time.Since(r.Created))+" ago", units.HumanSizeWithPrecision(float64(r.Size), 3))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().StringVar(&o.format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}

// imageRows gives one row per name (one for an unnamed image), newest first.
func imageRows(store cstorage.Store, imgs []cstorage.Image) []imageRow {
	var rows []imageRow
	for _, img := range imgs {
		size, err := store.ImageSize(img.ID)
		if err != nil {
			size = -1
		}
		base := imageRow{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created, Size: size}
		if len(img.Names) == 0 {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			rows = append(rows, r)
		}
		for _, n := range img.Names {
			r := base
			r.Repository, r.Tag = splitName(n)
			rows = append(rows, r)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
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
	if strings.Contains(n, "@") {
		return named.Name(), "<none>"
	}
	return named.Name(), "<none>"
}
