package main

import (
	"fmt"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

func newTagCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tag SOURCE TARGET [TARGET...]",
		Short: "Add names to an image",
		Long: `Add one or more names to an image in local storage. SOURCE is a name or
an image ID (or a prefix of one); a TARGET without a tag gets :latest, and
one without a registry is a docker.io name, as in Docker.`,
		Args: minArgs(2, "SOURCE TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args[:1], false, func(store cstorage.Store, ref string) error {
				added, err := image.Tag(store, ref, args[1:]...)
				if err != nil {
					return fmt.Errorf("tag %s: %w", ref, err)
				}
				if img, err := image.Lookup(store, ref, image.Options{}); err == nil {
					for _, n := range added {
						container.EmitImage("tag", img.ID, n)
					}
				}
				return nil
			})
		},
	}
	return sessionCommand(cmd, 1)
}

func newUntagCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "untag IMAGE [NAME...]",
		Short: "Remove names from an image",
		Long: `Remove names from an image in local storage without deleting it; with
no NAME, remove every name the image has.`,
		Args: minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args[:1], false, func(store cstorage.Store, ref string) error {
				img, err := image.Lookup(store, ref, image.Options{})
				if err != nil {
					return fmt.Errorf("untag %s: %w", ref, err)
				}
				removed, err := image.Untag(store, img.ID, args[1:]...)
				if err != nil {
					return fmt.Errorf("untag %s: %w", ref, err)
				}
				for _, n := range removed {
					container.EmitImage("untag", img.ID, n)
					fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", n)
				}
				return nil
			})
		},
	}
	return sessionCommand(cmd, 1)
}
