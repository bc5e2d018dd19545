package main

import (
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

func newRestartCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [flags] CONTAINER [CONTAINER...]",
		Short: "Stop containers (if running) and start them again",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			so, err := storeOptions()
			if err != nil {
				return err
			}
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				code, err := container.Restart(cmd.Context(), store, ref, stopWait(cmd.Flags(), timeout), container.StartOptions{Storage: so})
				if err != nil {
					return &exitCodeError{Code: code, Err: err}
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for the stop before SIGKILL")
	cmd.Flags().IntVar(&timeout, "timeout", 10, "the same as --time, as Docker spells it")
	return sessionCommand(cmd, 1)
}
