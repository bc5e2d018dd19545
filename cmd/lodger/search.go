//go:build lodger_transfer

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/image/transfer"
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
		Use:   searchDoc.use,
		Short: searchDoc.short,
		Long: `List the repositories whose name contains TERM, with their registry, so
that each name can be pulled as it is.

TERM of the form REGISTRY/TERM (REGISTRY with a dot or a port, or
localhost, such as 127.0.0.1:5000/busy) searches that registry only; a
plain TERM searches the unqualified-search registries of registries.conf.
Docker Hub answers its search API; other registries are searched through
the Docker Registry v2 catalog (/v2/_catalog), which many registries
disable or keep to some users: for those the search fails, saying that
the registry does not support search. Credentials are those of lodger
login (auth.json). --limit applies to each registry.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each result, or "table TEMPLATE" for a template with a
header. Fields: {{.Name}} {{.Description}} {{.StarCount}} {{.IsOfficial}}
{{.IsAutomated}} {{.Index}}.`,
		Args: exactArgs(1, "TERM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := format.Parse(o.format, defaultSearchFormat, searchHeaders)
			if err != nil {
				return err
			}
			if o.limit < 1 {
				return fmt.Errorf("--limit %d: want at least 1", o.limit)
			}
			// containers/image logs a refused catalog at error level
			// before returning the same error, which lodger prints once.
			logrus.SetLevel(logrus.FatalLevel)
			results, err := transfer.Search(cmd.Context(), args[0], o.limit, o.options(cmd.Flags()))
			var serr *transfer.SearchError
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
			views := make([]any, len(results))
			for i, r := range results {
				views[i] = searchView{r: r, noTrunc: o.noTrunc}
			}
			return pf.Write(cmd.OutOrStdout(), views)
		},
	}
	o.registerRegistry(cmd.Flags())
	cmd.Flags().IntVar(&o.limit, "limit", transfer.DefaultSearchLimit, "at most this many results from each registry")
	cmd.Flags().StringVar(&o.format, "format", "", "table, json, a Go template, or table TEMPLATE")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "show whole descriptions")
	return sessionCommand(cmd, 1)
}

// defaultSearchFormat is podman's columns: a catalog has no stars or
// badges ({{.StarCount}} and json keep Docker Hub's).
const defaultSearchFormat = "table {{.Name}}\t{{.Description}}"

// searchHeaders are the column titles, Docker's.
var searchHeaders = map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
	"IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED", "Index": "INDEX"}

// searchView is a result as templates see it, Docker's fields.
type searchView struct {
	r       transfer.SearchResult
	noTrunc bool
}

func (v searchView) Name() string  { return v.r.Name }
func (v searchView) Index() string { return v.r.Index }

// Description is on one line, cut as podman cuts it unless --no-trunc.
func (v searchView) Description() string {
	desc := strings.Join(strings.Fields(v.r.Description), " ")
	if !v.noTrunc && len(desc) > searchDescriptionWidth {
		desc = desc[:searchDescriptionWidth] + "..."
	}
	return desc
}

func (v searchView) StarCount() string { return strconv.Itoa(v.r.Stars) }

// IsOfficial is "[OK]" or nothing, as Docker's column.
func (v searchView) IsOfficial() string  { return okMark(v.r.Official) }
func (v searchView) IsAutomated() string { return okMark(v.r.Automated) }

func okMark(b bool) string {
	if b {
		return "[OK]"
	}
	return ""
}

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's (true and false there, not [OK]).
func (v searchView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"Name": v.Name(), "Description": v.Description(),
		"StarCount": v.StarCount(), "IsOfficial": strconv.FormatBool(v.r.Official),
		"IsAutomated": strconv.FormatBool(v.r.Automated), "Index": v.Index()})
}
