package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newWaitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Wait for containers to exit and print their exit codes",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var errs []error
			for _, ref := range args {
				if _, err := container.Get(store, ref); err != nil {
					errs = append(errs, err)
					continue
				}
				st, err := container.Wait(cmd.Context(), store, ref)
				switch {
				case st.ExitCode != nil:
					fmt.Fprintln(cmd.OutOrStdout(), *st.ExitCode)
				case err != nil:
					// Removed by --rm before we read its code.
					fmt.Fprintln(cmd.OutOrStdout(), -1)
				default:
					fmt.Fprintln(cmd.OutOrStdout(), -1)
					errs = append(errs, fmt.Errorf("container %s: exit code unknown (its monitor is gone)", ref))
				}
			}
			return errors.Join(errs...)
		},
	}
	return sessionCommand(cmd, 1)
}
