package main

import (
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

// newContainerCommand is Docker's `container` group: prune, and the
// container commands again under their management names.
func newContainerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container COMMAND",
		Short: "Manage containers",
	}
	ls := newPsCommand()
	ls.Use, ls.Aliases = "ls [flags]", []string{"ps", "list"}
	cmd.AddCommand(
		ls,
		newContainerPruneCommand(),
		newRunCommand(),
		newCreateCommand(),
		newStartCommand(),
		newStopCommand(),
		newRestartCommand(),
		newKillCommand(),
		newPauseCommand(),
		newUnpauseCommand(),
		newUpdateCommand(),
		newDiffCommand(),
		newStatsCommand(),
		newContainerExistsCommand(),
		newWaitCommand(),
		newRmCommand(),
		newExecCommand(),
		newAttachCommand(),
		newLogsCommand(),
		newInspectCommand(),
		newCpCommand(),
		newTopCommand(),
		newRenameCommand(),
		newPortCommand(),
		newExportCommand(),
		newCommitCommand(),
	)
	return cmd
}

func newContainerPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every container that is not running",
		Long: `Remove every created or exited container, as docker container prune does.
Volumes stay (volume prune removes those no container uses). --filter
until=DURATION|TIME (created before), label=KEY[=VALUE] and
label!=KEY[=VALUE] narrow it. Asks first unless -f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := parsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			if !force {
				if !confirm(cmd, "This will remove all stopped containers.") {
					return nil
				}
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			rep, err := container.Prune(cmd.Context(), store, f)
			printPruned(cmd.OutOrStdout(), "Containers", rep.Removed, rep.Reclaimed)
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, pruneFilterUsage)
	return sessionCommand(cmd, 1)
}

// pruneFilterUsage is the help of the prunes' --filter.
const pruneFilterUsage = "prune only what matches until=DURATION|TIME, label=KEY[=VALUE] or label!=KEY[=VALUE] (repeatable)"
