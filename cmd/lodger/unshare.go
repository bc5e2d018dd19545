package main

import (
	"fmt"
	"os"
	osexec "os/exec"
	"syscall"

	"github.com/spf13/cobra"
)

func newUnshareCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command inside lodger's user namespace (default: your shell)",
		Long: `Run a command as root of lodger's session user namespace, where files
owned by your subordinate ids (image layers, volumes) are yours to read,
change and remove, e.g. lodger unshare rm -rf ~/.local/share/lodger/storage.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				shell := os.Getenv("SHELL")
				if shell == "" {
					shell = "/bin/sh"
				}
				args = []string{shell}
			}
			path, err := osexec.LookPath(args[0])
			if err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			return fmt.Errorf("unshare: %w", syscall.Exec(path, args, os.Environ()))
		},
	}
	cmd.Flags().SetInterspersed(false)
	return sessionCommand(cmd, 1)
}
