package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newPortCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List a container's published ports, or the host address of one",
		Args:  rangeArgs(1, 2, "CONTAINER [PRIVATE_PORT[/PROTO]]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			in, err := container.Get(store, args[0])
			if err != nil {
				return err
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
			}
			lines, err := container.Ports(in, want)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			return nil
		},
	}
	return sessionCommand(cmd, 1)
}
