package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/container"
)

func newExportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [flags] CONTAINER",
		Short: "Write a container's filesystem to a tar archive",
		Long: `Write the root filesystem of a container, running or stopped, as a tar
archive: the image's files with the container's changes, owned as the
container sees them. Volumes and the files lodger mounts into the container
are not part of it. Without -o the archive goes to stdout, which must not
be a terminal; lodger import makes an image of it again.`,
		Args: exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("export: refusing to write a tar archive to a terminal; use -o FILE or redirect stdout")
				}
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			if output == "" {
				return container.Export(store, args[0], cmd.OutOrStdout())
			}
			// Written beside FILE and renamed, so that a failed export
			// leaves no partial archive behind.
			tmp, err := os.CreateTemp(filepath.Dir(output), ".lodger-export-*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			ok := false
			defer func() {
				if !ok {
					tmp.Close()
					os.Remove(tmp.Name())
				}
			}()
			if err := container.Export(store, args[0], tmp); err != nil {
				return err
			}
			if err := tmp.Chmod(0o644); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.Rename(tmp.Name(), output); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			ok = true
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return sessionCommand(cmd, 1)
}
