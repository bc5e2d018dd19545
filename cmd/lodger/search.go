package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/imagepull"
)

type searchOptions struct {
	pullFlags
	limit   int
	format  string
	noTrunc bool
}

// searchDescriptionWidth is where a description is cut in the table, as
// podman cuts it.
const searchDescriptionWidth = 44

func newSearchCommand() *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search [flags] TERM",
		Short: "Search registries for images",
		Long: `List the repositories whose name contains TERM, with their registry, so
that each name can be pulled as it is.

TERM of the form REGISTRY/TERM (REGISTRY with a dot or a port, or
localhost, such as 127.0.0.1:5000/busy) searches that registry only; a
plain TERM searches the unqualified-search registries of registries.conf.
Docker Hub answers its search API; other registries are searched through
the Docker Registry v2 catalog (/v2/_catalog), which many registries
disable or keep to some users: for those the search fails, saying that
the registry does not support search. Credentials are those of lodger
login (auth.json). --limit applies to each registry.`,
		Args: exactArgs(1, "TERM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "table" && o.format != "json" {
				return fmt.Errorf("--format %q: use table or json", o.format)
			}
			if o.limit < 1 {
				return fmt.Errorf("--limit %d: want at least 1", o.limit)
			}
			// containers/image logs a refused catalog at error level
			// before returning the same error, which lodger prints once.
			logrus.SetLevel(logrus.FatalLevel)
			results, err := imagepull.Search(cmd.Context(), args[0], o.limit, o.options(cmd.Flags()))
			var serr *imagepull.SearchError
			if errors.As(err, &serr) && serr.Answered > 0 {
				// Some registries answered: show what they found, as
				// podman does, and say which could not be searched.
				for _, e := range serr.Errs {
					fmt.Fprintf(os.Stderr, "lodger: warning: search %s: %v\n", args[0], e)
				}
				err = nil
			}
			if err != nil {
				return withRegistryHint(err)
			}
			out := cmd.OutOrStdout()
			if o.format == "json" {
				if results == nil {
					results = []imagepull.SearchResult{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			// podman's columns: a catalog has no stars or badges (the
			// JSON output keeps Docker Hub's).
			fmt.Fprintln(tw, "NAME\tDESCRIPTION")
			for _, r := range results {
				desc := strings.Join(strings.Fields(r.Description), " ")
				if !o.noTrunc && len(desc) > searchDescriptionWidth {
					desc = desc[:searchDescriptionWidth] + "..."
				}
				fmt.Fprintf(tw, "%s\t%s\n", r.Name, desc)
			}
			return tw.Flush()
		},
	}
	o.registerRegistry(cmd.Flags())
	cmd.Flags().IntVar(&o.limit, "limit", imagepull.DefaultSearchLimit, "at most this many results from each registry")
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "show whole descriptions")
	return sessionCommand(cmd, 1)
}
