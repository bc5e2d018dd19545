package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

type rmOptions struct {
	force   bool
	volumes bool
	all     bool
	ignore  bool
}

func newRmCommand() *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm [flags] CONTAINER [CONTAINER...]",
		Short: "Remove containers",
		Long: `Remove containers. As podman's: -a/--all removes every container (the
running ones too with -f), printing each ID; -i/--ignore says nothing of a
container that does not exist.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.all && len(args) > 0 {
				return errors.New("--all and container names or IDs cannot be given together")
			}
			if o.all {
				return nil
			}
			return minArgs(1, "CONTAINER")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.all || o.ignore {
				var err error
				if args, err = rmTargets(args, o.all); err != nil {
					return err
				}
			}
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
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "remove every container")
	cmd.Flags().BoolVarP(&o.ignore, "ignore", "i", false, "ignore containers that do not exist")
	return sessionCommand(cmd, 1)
}

// rmTargets are every container's ID (all), or those of refs that exist
// (--ignore).
func rmTargets(refs []string, all bool) ([]string, error) {
	store, err := openStore()
	if err != nil {
		return nil, err
	}
	defer store.Shutdown(false)
	if all {
		cs, err := store.Containers()
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		return ids, nil
	}
	var out []string
	for _, ref := range refs {
		if _, err := store.Container(ref); !errors.Is(err, cstorage.ErrContainerUnknown) {
			out = append(out, ref)
		}
	}
	return out, nil
}
