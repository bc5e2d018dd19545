package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/storage"
)

func newSystemCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage lodger's own state",
	}
	cmd.AddCommand(newSystemDfCommand(), newSystemPruneCommand(), newSystemResetCommand(), newSystemAppArmorProfileCommand(), newSystemServiceCommand())
	return cmd
}

func newSystemResetCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reset [-f]",
		Short: "Remove every container, image and volume, and lodger's storage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			so, err := storeOptions()
			if err != nil {
				return err
			}
			if !force && !confirm(cmd, "This will remove every container, image and volume in "+so.GraphRoot+".") {
				return nil
			}
			store, err := storage.Open(so)
			if err != nil {
				return err
			}
			infos, err := container.List(store)
			if err != nil {
				return err
			}
			var errs []error
			for _, in := range infos {
				if err := container.Remove(cmd.Context(), store, in.ID, true); err != nil {
					errs = append(errs, err)
				}
			}
			if _, err := store.Shutdown(true); err != nil {
				errs = append(errs, fmt.Errorf("shut storage down: %w", err))
			}
			// Inside the session the files of every subordinate id are ours
			// to remove.
			for _, dir := range []string{so.GraphRoot, so.RunRoot} {
				if err := os.RemoveAll(dir); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	return sessionCommand(cmd, 1)
}
