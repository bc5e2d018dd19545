package main

import (
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newRenameCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2, "CONTAINER NEW_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			return container.Rename(store, args[0], args[1])
		},
	}
	return sessionCommand(cmd, 1)
}
