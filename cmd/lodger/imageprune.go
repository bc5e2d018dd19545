package main

import (
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/image"
)

func newImagePruneCommand() *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove dangling images (with -a, every image no container uses)",
		Long: `Remove the dangling images: those without a name that no other image is
built on. With -a, remove every image no container uses, named or not, as
docker image prune -a does. Layers that a kept image or a container shares
stay. --filter until=DURATION|TIME, label=KEY[=VALUE] and label!=KEY[=VALUE]
narrow it. Asks first unless -f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := parsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			if !force {
				warning := "This will remove all dangling images."
				if all {
					warning = "This will remove all images without at least one container associated to them."
				}
				if !confirm(cmd, warning) {
					return nil
				}
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			rep, err := image.Prune(cmd.Context(), store, image.PruneOptions{All: all, Filter: f})
			printPruned(cmd.OutOrStdout(), "Images", rep.Removed, rep.Reclaimed)
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, pruneFilterUsage)
	return sessionCommand(cmd, 1)
}
