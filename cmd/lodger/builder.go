//go:build lodger_transfer

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/build"
)

func newBuilderCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   builderDoc.use,
		Short: builderDoc.short,
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBuilderPruneCommand())
	return cmd
}

func newBuilderPruneCommand() *cobra.Command {
	var (
		all     bool
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove the build cache",
		Long: `Remove the build cache, as docker builder prune does: the directories of
RUN --mount=type=cache that no build is using, and the images of build
steps that no image with a name is built on. With -a, every untagged
step image goes too: the layers of tagged images stay, but the next
build of them starts afresh. --filter until=DURATION|TIME keeps what was
used (a cache mount) or made (a step image) after it. Asks first unless
-f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o build.PruneOptions
			o.All = all
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "until":
					t, err := parseEventTime("--filter until", v)
					if err != nil {
						return err
					}
					o.Filter.Until = t
				default:
					return fmt.Errorf("--filter %q: %w (use until=DURATION|TIME)", f, build.ErrNotSupported)
				}
			}
			if !force {
				what := "WARNING! This will remove all dangling build cache."
				if all {
					what = "WARNING! This will remove all build cache."
				}
				if !confirm(cmd, strings.TrimPrefix(what, "WARNING! ")) {
					return nil
				}
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			rep, err := build.Prune(store, o)
			printPruned(cmd.OutOrStdout(), "build cache objects", rep.Removed, rep.Reclaimed)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "remove every untagged build step image too, not only dangling ones")
	f.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	f.StringArrayVar(&filters, "filter", nil, "until=DURATION|TIME: keep what was used after it")
	return sessionCommand(cmd, 1)
}
