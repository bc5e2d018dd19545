package main

import (
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

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
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				var vols []string
				if c, err := store.Container(ref); err == nil && o.volumes {
					vols = container.ContainerVolumes(c)
				}
				if err := container.Remove(cmd.Context(), store, ref, o.force); err != nil {
					return err
				}
				return container.RemoveAnonymousVolumes(store, vols)
			})
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "kill a running container first")
	cmd.Flags().BoolVarP(&o.volumes, "volumes", "v", false, "remove the container's anonymous volumes too")
	return sessionCommand(cmd, 1)
}
