package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

type importOptions struct {
	changes []string
	message string
}

func newImportCommand() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|- [REPOSITORY[:TAG]]",
		Short: "Make an image of a root filesystem tarball",
		Long: `Make a one-layer image of a tar archive of a root filesystem (plain, gzip,
bzip2, xz or zstd), read from FILE or, with -, from stdin, and print its
ID. The image is named REPOSITORY[:TAG] when given, and has no name
otherwise.

--change (repeatable) sets the configuration with a Dockerfile instruction:
CMD, ENTRYPOINT (JSON or shell form), ENV, EXPOSE, LABEL, STOPSIGNAL,
USER, VOLUME or WORKDIR, such as --change 'CMD ["/bin/sh"]' or
--change 'ENV A=1'.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%q requires 1 or 2 arguments (FILE|- [REPOSITORY[:TAG]]), got %d\nSee 'lodger %s --help'.", cmd.CommandPath(), len(args), cmd.Name())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := image.ParseChanges(o.changes)
			if err != nil {
				return err
			}
			src := args[0]
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			var r io.Reader
			if src == "-" {
				if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("import: stdin is a terminal; give FILE or redirect a tar archive to stdin")
				}
				r = cmd.InOrStdin()
			} else {
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			comment := o.message
			if comment == "" {
				comment = "Imported from " + src
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			return interruptible(cmd, "import "+src, func(ctx context.Context) error {
				// The tar is read in storage's own goroutines, which do
				// not see ctx: closing what they read from stops them.
				stop := context.AfterFunc(ctx, func() {
					if c, ok := r.(io.Closer); ok {
						_ = c.Close()
					}
				})
				defer stop()
				id, err := image.Commit(ctx, store, r, image.CommitOptions{
					Name: name, Changes: changes, Comment: comment, MaxUnpackedSize: maxUnpackedSize(),
				})
				if err != nil {
					return withBudgetHint(fmt.Errorf("import %s: %w", src, err))
				}
				container.EmitImageID("import", id)
				fmt.Fprintln(cmd.OutOrStdout(), "sha256:"+id)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&o.changes, "change", "c", nil, "apply a Dockerfile instruction to the image's configuration (repeatable)")
	cmd.Flags().StringVarP(&o.message, "message", "m", "", "comment for the image's history")
	return sessionCommand(cmd, 1)
}
