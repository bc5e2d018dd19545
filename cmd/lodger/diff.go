package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newDiffCommand() *cobra.Command {
	return sessionCommand(&cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List the files a container added (A), changed (C) or deleted (D) against its image",
		Args:  exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			changes, err := container.Diff(store, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, c := range changes {
				fmt.Fprintln(out, c)
			}
			return nil
		},
	}, 1)
}
