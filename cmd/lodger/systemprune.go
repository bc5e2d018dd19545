//go:build lodger_transfer

package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/build"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/internal/prunefilter"
)

type systemPruneOptions struct {
	all     bool
	volumes bool
	force   bool
}

func newSystemPruneCommand() *cobra.Command {
	var o systemPruneOptions
	cmd := &cobra.Command{
		Use:   systemPruneDoc.use,
		Short: systemPruneDoc.short,
		Long: `Remove every container that is not running, then, with --volumes, the
anonymous volumes no container uses, then the dangling images (with -a,
every image no container uses), then the build cache (the cache mounts
no build uses; the images of build steps), as docker system prune does. Named
volumes stay, as in Docker 23 and later: volume prune -a removes them.
Asks first unless -f is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.force {
				what := []string{"all stopped containers"}
				if o.volumes {
					what = append(what, "all anonymous volumes not used by at least one container")
				}
				if o.all {
					what = append(what, "all images without at least one container associated to them")
				} else {
					what = append(what, "all dangling images")
				}
				if o.all {
					what = append(what, "all build cache")
				} else {
					what = append(what, "unused build cache")
				}
				if !confirm(cmd, "This will remove:\n  - "+strings.Join(what, "\n  - ")+"\n") {
					return nil
				}
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			out := cmd.OutOrStdout()
			var errs []error
			crep, err := container.Prune(cmd.Context(), store, prunefilter.Filter{})
			errs = append(errs, err)
			printDeleted(out, "Containers", crep.Removed)
			total := crep.Reclaimed
			if o.volumes {
				vrep, err := container.VolumeStore(store).Prune(false, prunefilter.Filter{})
				errs = append(errs, err)
				printDeleted(out, "Volumes", vrep.Names)
				total += vrep.Bytes
			}
			irep, err := image.Prune(cmd.Context(), store, image.PruneOptions{All: o.all})
			errs = append(errs, err)
			printDeleted(out, "Images", irep.Removed)
			total += irep.Reclaimed
			// Then the build cache, as Docker's does last: the cache
			// mounts no build uses and the step images left.
			brep, err := build.Prune(store, build.PruneOptions{All: o.all})
			errs = append(errs, err)
			printDeleted(out, "build cache objects", brep.Removed)
			total += brep.Reclaimed
			printReclaimed(out, total)
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolVar(&o.volumes, "volumes", false, "remove anonymous volumes no container uses too")
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "do not ask for confirmation")
	return sessionCommand(cmd, 1)
}
