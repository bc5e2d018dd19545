package main

import (
	"fmt"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

func newWaitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Wait for containers to exit and print their exit codes",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args, false, func(store cstorage.Store, ref string) error {
				if _, err := container.Get(store, ref); err != nil {
					return err
				}
				st, err := container.Wait(cmd.Context(), store, ref)
				switch {
				case st.ExitCode != nil:
					fmt.Fprintln(cmd.OutOrStdout(), *st.ExitCode)
				case err != nil:
					// Removed by --rm before its code could be read.
					fmt.Fprintln(cmd.OutOrStdout(), -1)
				default:
					fmt.Fprintln(cmd.OutOrStdout(), -1)
					return fmt.Errorf("container %s: exit code unknown (its monitor is gone)", ref)
				}
				return nil
			})
		},
	}
	return sessionCommand(cmd, 1)
}
