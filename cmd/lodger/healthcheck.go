package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/health"
)

func newHealthcheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Run containers' health checks",
	}
	cmd.AddCommand(newHealthcheckRunCommand())
	return cmd
}

func newHealthcheckRunCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run CONTAINER",
		Short: "Run a container's health check once",
		Long: `Run the container's health check once, now, and print healthy or
unhealthy, as podman's healthcheck run: exit 0 when the check passed, 1
when it failed, 125 when it could not run. The result counts as one of the
monitor's own checks: it goes into the container's health (inspect's
.State.Health, ps's "(healthy)"), and a status it changes writes a
health_status event.`,
		Args: exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			r, err := container.HealthcheckRun(cmd.Context(), store, args[0])
			if err != nil {
				return err
			}
			if r.ExitCode != 0 {
				fmt.Fprintln(cmd.OutOrStdout(), health.Unhealthy)
				return &exitCodeError{Code: 1} // said on stdout, as podman
			}
			fmt.Fprintln(cmd.OutOrStdout(), health.Healthy)
			return nil
		},
	}
	return sessionCommand(cmd, 125)
}
