package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

type commitOptions struct {
	changes []string
	message string
	author  string
	pause   bool
}

func newCommitCommand() *cobra.Command {
	var o commitOptions
	cmd := &cobra.Command{
		Use:   "commit [flags] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Make an image of a container's changes",
		Long: `Make a new image of the changes a container made to its image's files: one
more layer on top of the container's image, and print its ID. The new
image keeps its image's configuration with the command the container ran
and its labels, then --change (repeatable) applies Dockerfile
instructions: CMD, ENTRYPOINT (JSON or shell form), ENV, EXPOSE, LABEL,
STOPSIGNAL, USER, VOLUME or WORKDIR. It is named REPOSITORY[:TAG] when
given, and has no name otherwise. A running container is not paused
unless --pause is given: what it writes meanwhile may or may not be part
of the image. --pause stops its processes while its changes are read
(as docker commit does by default) and resumes them at once after.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%q requires 1 or 2 arguments (CONTAINER [REPOSITORY[:TAG]]), got %d\nSee 'lodger %s --help'.", cmd.CommandPath(), len(args), cmd.Name())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := image.ParseChanges(o.changes)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			id, err := container.Commit(cmd.Context(), store, args[0], container.CommitOptions{
				Name:    name,
				Changes: changes,
				Comment: o.message,
				Author:  o.author,
				Pause:   o.pause,
				// A container's changes are held to the same budget as
				// a pull: what it wrote is as much the user's disk.
				MaxUnpackedSize: maxUnpackedSize(),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "sha256:"+id)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&o.changes, "change", "c", nil, "apply a Dockerfile instruction to the image's configuration (repeatable)")
	cmd.Flags().StringVarP(&o.message, "message", "m", "", "comment for the image's history")
	cmd.Flags().StringVarP(&o.author, "author", "a", "", `author, such as "Jane Doe <jane@example.com>"`)
	cmd.Flags().BoolVarP(&o.pause, "pause", "p", false, "stop the container's processes while its changes are read")
	return sessionCommand(cmd, 1)
}
