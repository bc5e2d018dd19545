package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/imagepull"
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
		Args:  exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			hist, err := imagepull.History(cmd.Context(), store, args[0])
			if err != nil {
				return fmt.Errorf("history %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			// Newest first, as Docker shows it.
			for i, j := 0, len(hist)-1; i < j; i, j = i+1, j-1 {
				hist[i], hist[j] = hist[j], hist[i]
			}
			id := func(s string) string {
				if !o.noTrunc && len(s) > 12 && s != "<missing>" {
					return s[:12]
				}
				return s
			}
			switch {
			case o.format == "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if hist == nil {
					hist = []imagepull.HistoryEntry{}
				}
				return enc.Encode(hist)
			case o.format != "" && o.format != "table":
				return fmt.Errorf("--format %q: use table or json", o.format)
			case o.quiet:
				for _, h := range hist {
					fmt.Fprintln(out, id(h.ID))
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
			for _, h := range hist {
				created := "<unknown>"
				if !h.Created.IsZero() {
					created = units.HumanDuration(time.Since(h.Created)) + " ago"
				}
				by := strings.Join(strings.Fields(h.CreatedBy), " ")
				if !o.noTrunc && len(by) > 45 {
					by = by[:44] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id(h.ID), created, by,
					units.HumanSizeWithPrecision(float64(h.Size), 3), h.Comment)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "do not shorten IDs and commands")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().StringVar(&o.format, "format", "", "output format: table or json")
	return sessionCommand(cmd, 1)
}

func newImageInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect IMAGE [IMAGE...]",
		Short: "Show images' configuration as JSON",
		Args:  minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			infos := []*imagepull.ImageInfo{}
			var errs []error
			for _, ref := range args {
				in, err := imagepull.Inspect(cmd.Context(), store, ref)
				if err != nil {
					errs = append(errs, fmt.Errorf("inspect %s: %w", ref, err))
					continue
				}
				infos = append(infos, in)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "    ")
			if err := enc.Encode(infos); err != nil {
				return err
			}
			if len(errs) > 0 {
				return fmt.Errorf("%v", errs)
			}
			return nil
		},
	}
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
	)
	return cmd
}
