package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

type rmOptions struct {
	force   bool
	volumes bool
}

func newRmCommand() *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm [flags] CONTAINER [CONTAINER...]",
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
				var vols []string
				if c, err := store.Container(ref); err == nil && o.volumes {
					vols = container.ContainerVolumes(c)
				}
				if err := container.Remove(cmd.Context(), store, ref, o.force); err != nil {
					errs = append(errs, err)
					continue
				}
				if err := container.RemoveAnonymousVolumes(store, vols); err != nil {
					errs = append(errs, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "kill a running container first")
	cmd.Flags().BoolVarP(&o.volumes, "volumes", "v", false, "remove the container's anonymous volumes too")
	return sessionCommand(cmd, 1)
}
