package main

import (
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

func newPauseCommand() *cobra.Command {
	return sessionCommand(&cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Stop every process of containers until unpause",
		Long: `Stop every process of running containers until lodger unpause. Where a
writable cgroup freezer is delegated to you, lodger freezes the container's
processes in a cgroup of their own; otherwise it sends SIGSTOP to every
process of the container's pid namespace until none is left running
(lodger info says which). ps shows a paused container as "Up ... (Paused)";
stop, kill and rm -f work on it.`,
		Args: minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				return container.Pause(store, ref)
			})
		},
	}, 1)
}

func newUnpauseCommand() *cobra.Command {
	return sessionCommand(&cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Resume every process of paused containers",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				return container.Unpause(store, ref)
			})
		},
	}, 1)
}
