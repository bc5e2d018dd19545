package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newStopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER [CONTAINER...]",
		Short: "Stop containers: the stop signal, then SIGKILL after a timeout",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var errs []error
			for _, ref := range args {
				if err := container.Stop(cmd.Context(), store, ref, time.Duration(timeout)*time.Second); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL")
	return sessionCommand(cmd, 1)
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
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var errs []error
			for _, ref := range args {
				in, err := container.Get(store, ref)
				if err == nil {
					err = container.Signal(in, sig)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send, by name or number")
	return sessionCommand(cmd, 1)
}
