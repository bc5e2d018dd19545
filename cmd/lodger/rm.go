package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newRmCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rm CONTAINER [CONTAINER...]",
		Short: "Remove containers",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var errs []error
			for _, ref := range args {
				c, err := store.Container(ref)
				if err != nil {
					errs = append(errs, fmt.Errorf("remove container %s: %w", ref, err))
					continue
				}
				_, _ = store.Unmount(c.ID, true)
				if err := store.DeleteContainer(c.ID); err != nil {
					errs = append(errs, fmt.Errorf("remove container %s: %w", ref, err))
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errors.Join(errs...)
		},
	}
	return sessionCommand(cmd, 1)
}
