package main

import (
	"fmt"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

type rmiOptions struct {
	force bool
}

func newRmiCommand() *cobra.Command {
	var o rmiOptions
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE [IMAGE...]",
		Short: "Remove images from local storage",
		Args:  minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args, false, func(store cstorage.Store, ref string) error {
				r, err := container.RemoveImage(store, ref, o.force)
				if err != nil {
					return err
				}
				if r.Untagged != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", r.Untagged)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", r.Deleted)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "also remove containers that use the image")
	return sessionCommand(cmd, 1)
}

// removal says what rmi did with one argument.
