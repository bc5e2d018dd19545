package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/storage"
)

func newStartCommand() *cobra.Command {
	var attach bool
	cmd := &cobra.Command{
		Use:   "start [flags] CONTAINER [CONTAINER...]",
		Short: "Start created or stopped containers",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			so, err := storeOptions()
			if err != nil {
				return err
			}
			if attach {
				if len(args) != 1 {
					return fmt.Errorf("start -a takes one container")
				}
				store, err := storage.Open(so)
				if err != nil {
					return err
				}
				defer store.Shutdown(false)
				sigs, stop := forwardSignals()
				defer stop()
				code, err := container.Start(cmd.Context(), store, args[0], container.StartOptions{Attach: true, Storage: so,
					Stdout: os.Stdout, Stderr: os.Stderr, Signals: sigs})
				return processExit(code, err)
			}
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				code, err := container.Start(cmd.Context(), store, ref, container.StartOptions{Storage: so})
				if err != nil {
					return &exitCodeError{Code: code, Err: err}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "print the container's output, pass it the signals lodger receives, and exit with its code")
	return sessionCommand(cmd, exec.ExitLodger)
}
