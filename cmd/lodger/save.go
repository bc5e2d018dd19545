//go:build lodger_transfer

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/transfer"
)

type saveOptions struct {
	output string
	format string
	quiet  bool
}

func newSaveCommand() *cobra.Command {
	var o saveOptions
	cmd := &cobra.Command{
		Use:   saveDoc.use,
		Short: saveDoc.short,
		Long: `Write images from local storage to a docker-archive (several images in
one tar, loadable by docker load and lodger load), an oci-archive (one
image) or an oci-dir layout. Without -o the archive goes to stdout, which
must not be a terminal.`,
		Args: minArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			po := image.Options{}
			if !o.quiet {
				po.Progress = os.Stderr
			}
			if o.output == "" {
				if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("save: refusing to write an archive to a terminal; use -o FILE or redirect stdout")
				}
			}
			return interruptible(cmd, "save "+strings.Join(args, " "), func(ctx context.Context) error {
				var err error
				if o.output != "" {
					err = transfer.Save(ctx, store, args, o.output, o.format, po)
				} else {
					err = transfer.SaveTo(ctx, store, args, cmd.OutOrStdout(), o.format, po)
				}
				if err != nil {
					return err
				}
				saved := map[string]bool{}
				for _, a := range args {
					if img, err := image.Lookup(store, a, image.Options{}); err == nil && !saved[img.ID] {
						saved[img.ID] = true
						container.EmitImageID("save", img.ID)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to FILE (a directory for oci-dir) instead of stdout")
	cmd.Flags().StringVar(&o.format, "format", transfer.FormatDockerArchive, "docker-archive, oci-archive or oci-dir")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return sessionCommand(cmd, 1)
}

type loadOptions struct {
	input string
	quiet bool
}

func newLoadCommand() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   loadDoc.use,
		Short: loadDoc.short,
		Long: `Load every image of a docker-archive or oci-archive into local storage
and print "Loaded image: NAME" for each (the ID for an image without a
name). The archive is read from stdin unless -i is given. -i also takes a
directory: an OCI image layout (save --format oci-dir) or what podman save
--format docker-dir writes. What docker save and podman save write in
each of their formats loads with the image's ID.`,
		Args: exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			po := image.Options{MaxUnpackedSize: maxUnpackedSize()}
			if !o.quiet {
				po.Progress = os.Stderr
			}
			if o.input == "" {
				if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("load: stdin is a terminal; use -i FILE or redirect an archive to stdin")
				}
			}
			return interruptible(cmd, "load", func(ctx context.Context) error {
				var loaded []transfer.LoadedImage
				if o.input != "" {
					loaded, err = transfer.Load(ctx, store, o.input, po)
				} else {
					loaded, err = transfer.LoadFrom(ctx, store, cmd.InOrStdin(), po)
				}
				out := cmd.OutOrStdout()
				for _, img := range loaded {
					container.EmitImageID("load", img.ID)
					if len(img.Names) == 0 {
						fmt.Fprintf(out, "Loaded image: %s\n", img.ID)
						continue
					}
					for _, n := range img.Names {
						fmt.Fprintf(out, "Loaded image: %s\n", n)
					}
				}
				return withBudgetHint(err)
			})
		},
	}
	cmd.Flags().StringVarP(&o.input, "input", "i", "", "read the archive from FILE (or an image directory) instead of stdin")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return sessionCommand(cmd, 1)
}
