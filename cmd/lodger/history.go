package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/image"
)

type historyOptions struct {
	noTrunc bool
	quiet   bool
	format  string
}

func newHistoryCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show how an image was built",
		Long: `Show how an image was built, newest step first.

--format is table (the default), json (one object per line, as Docker's),
a Go template over each step, or "table TEMPLATE" for a template with a
header. Fields: {{.ID}} {{.CreatedSince}} {{.CreatedAt}} {{.CreatedBy}}
{{.Size}} {{.Comment}}.`,
		Args: exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := format.Parse(o.format, defaultHistoryFormat, historyHeaders)
			if err != nil {
				return err
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			hist, err := image.History(cmd.Context(), store, args[0])
			if err != nil {
				return fmt.Errorf("history %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			// Newest first, as Docker shows it.
			for i, j := 0, len(hist)-1; i < j; i, j = i+1, j-1 {
				hist[i], hist[j] = hist[j], hist[i]
			}
			if o.quiet {
				for _, h := range hist {
					fmt.Fprintln(out, historyView{h: h, noTrunc: o.noTrunc}.ID())
				}
				return nil
			}
			views := make([]any, len(hist))
			for i, h := range hist {
				views[i] = historyView{h: h, noTrunc: o.noTrunc}
			}
			return pf.Write(out, views)
		},
	}
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "do not shorten IDs and commands")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().StringVar(&o.format, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

// historyHeaders are the column titles, Docker's.
var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

// historyView is a step as templates see it, Docker's fields.
type historyView struct {
	h       image.HistoryEntry
	noTrunc bool
}

func (v historyView) ID() string {
	switch {
	case v.h.ID == "<missing>" || v.h.ID == "":
		return "<missing>"
	case v.noTrunc:
		return "sha256:" + v.h.ID
	}
	return shortID(v.h.ID, true)
}

func (v historyView) CreatedSince() string {
	if v.h.Created.IsZero() {
		return "<unknown>"
	}
	return units.HumanDuration(time.Since(v.h.Created)) + " ago"
}

func (v historyView) CreatedAt() string {
	if v.h.Created.IsZero() {
		return "<unknown>"
	}
	return v.h.Created.Local().Format(time.RFC3339)
}

// CreatedBy is the step's command on one line, cut to 45 characters
// unless --no-trunc, as Docker's.
func (v historyView) CreatedBy() string {
	by := strings.Join(strings.Fields(v.h.CreatedBy), " ")
	if !v.noTrunc {
		by = format.Truncate(by, 45)
	}
	return by
}

func (v historyView) Size() string    { return units.HumanSizeWithPrecision(float64(v.h.Size), 3) }
func (v historyView) Comment() string { return v.h.Comment }

// MarshalJSON makes {{json .}} and --format json print the fields
// templates see, as Docker's.
func (v historyView) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": v.ID(), "CreatedSince": v.CreatedSince(), "CreatedAt": v.CreatedAt(),
		"CreatedBy": v.CreatedBy(), "Size": v.Size(), "Comment": v.Comment(),
	})
}

func newImageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE [IMAGE...]",
		Short: "Show images in Docker's inspect schema",
		Long: `Show images in Docker's image inspect schema, as a JSON array or through
a Go template (--format): .Id, .RepoTags, .RepoDigests, .Created, .Config
(.Cmd .Entrypoint .Env .ExposedPorts .Labels ...), .Os, .Architecture,
.Size, .RootFS.Layers.`,
		Args: minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var items []any
			var errs []error
			for _, ref := range args {
				in, err := image.InspectImage(cmd.Context(), store, ref)
				if err != nil {
					errs = append(errs, fmt.Errorf("inspect %s: %w", ref, err))
					continue
				}
				items = append(items, in)
			}
			if err := writeInspect(cmd.OutOrStdout(), format, items); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return sessionCommand(cmd, 1)
}

// newImageCommand is Docker's `image` group: the image commands again
// under their management names.
func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image COMMAND",
		Short: "Manage images",
	}
	ls := newImagesCommand()
	ls.Use, ls.Aliases = "ls [flags]", []string{"list"}
	rm := newRmiCommand()
	rm.Use, rm.Aliases = "rm [flags] IMAGE [IMAGE...]", []string{"remove"}
	cmd.AddCommand(
		ls,
		rm,
		newHistoryCommand(),
		newImageInspectCommand(),
		newPullCommand(),
		newPushCommand(),
		newTagCommand(),
		newUntagCommand(),
		newSaveCommand(),
		newLoadCommand(),
		newImportCommand(),
		newImagePruneCommand(),
		newImageExistsCommand(),
		newBuildCommand(),
	)
	return cmd
}
