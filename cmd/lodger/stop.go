package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
)

func newStopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER [CONTAINER...]",
		Short: "Stop containers: the stop signal, then SIGKILL after a timeout",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				return container.Stop(cmd.Context(), store, ref, stopWait(cmd.Flags(), timeout))
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL")
	// Docker 25 renamed --time to --timeout; podman keeps --time.
	cmd.Flags().IntVar(&timeout, "timeout", 10, "the same as --time, as Docker spells it")
	return sessionCommand(cmd, 1)
}

// stopWait is -t/--timeout, or -1 for the container's --stop-timeout.
func stopWait(f *pflag.FlagSet, seconds int) time.Duration {
	if !f.Changed("time") && !f.Changed("timeout") {
		return -1
	}
	return time.Duration(seconds) * time.Second
}

func newKillCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [flags] CONTAINER [CONTAINER...]",
		Short: "Send a signal to containers (SIGKILL by default)",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := container.ParseSignal(signal)
			if err != nil {
				return fmt.Errorf("--signal %q: %w", signal, err)
			}
			return eachArg(cmd, args, true, func(store cstorage.Store, ref string) error {
				in, err := container.Get(store, ref)
				if err != nil {
					return err
				}
				return container.Signal(in, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send, by name or number")
	return sessionCommand(cmd, 1)
}
