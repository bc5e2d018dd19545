package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/imagepull"
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
				r, err := removeImage(store, ref, o.force)
				if err != nil {
					return err
				}
				// Docker's events: untag for each name that goes, then delete.
				if r.untagged != "" {
					container.EmitImage("untag", r.id, r.untagged)
					fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", r.untagged)
				} else {
					for _, n := range r.names {
						container.EmitImage("untag", r.id, n)
					}
					container.EmitImage("delete", r.id, "")
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", r.deleted)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "also remove containers that use the image")
	return sessionCommand(cmd, 1)
}

// removal says what rmi did with one argument.
type removal struct {
	untagged string // the name removed from an image that keeps others
	deleted  string // the ID of the image deleted
	id       string
	names    []string // the names the deleted image had
}

func removeImage(store cstorage.Store, ref string, force bool) (removal, error) {
	img, err := imagepull.Lookup(store, ref, imagepull.Options{})
	if err != nil {
		return removal{}, fmt.Errorf("remove image %s: %w", ref, err)
	}
	// A name of an image that has other names only goes away itself, as
	// in Docker: the image stays for its other names.
	if len(img.Names) > 1 && !strings.HasPrefix(img.ID, ref) {
		for _, n := range img.Names {
			if n == ref || strings.TrimSuffix(n, ":latest") == ref || strings.HasSuffix(n, "/"+ref) {
				if err := store.RemoveNames(img.ID, []string{n}); err != nil {
					return removal{}, fmt.Errorf("untag %s: %w", n, err)
				}
				return removal{untagged: n, id: img.ID}, nil
			}
		}
	}
	ctrs, err := store.Containers()
	if err != nil {
		return removal{}, err
	}
	for _, c := range ctrs {
		if c.ImageID != img.ID {
			continue
		}
		if !force {
			return removal{}, fmt.Errorf("remove image %s: container %s (%s) uses it; remove the container or use -f", ref, c.ID[:12], firstName(c.Names))
		}
		_, _ = store.Unmount(c.ID, true)
		if err := store.DeleteContainer(c.ID); err != nil {
			return removal{}, fmt.Errorf("remove container %s: %w", c.ID[:12], err)
		}
	}
	if _, err := store.DeleteImage(img.ID, true); err != nil {
		return removal{}, fmt.Errorf("remove image %s: %w", ref, err)
	}
	return removal{deleted: img.ID, id: img.ID, names: img.Names}, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
