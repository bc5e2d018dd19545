//go:build lodger_transfer

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image/transfer"
)

type pullOptions struct {
	pullFlags
	quiet bool
}

func newPullCommand() *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   pullDoc.use,
		Short: pullDoc.short,
		Long: `Pull an image into local storage and print its ID.

IMAGE is a name resolved through registries.conf (short names, search
registries, mirrors), or a transport reference: docker://NAME,
oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF].`,
		Args: exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			po := o.options(cmd.Flags())
			if !o.quiet {
				po.Progress = os.Stderr
			}
			return interruptible(cmd, "pull "+args[0], func(ctx context.Context) error {
				id, err := transfer.Pull(ctx, store, args[0], po)
				if err != nil {
					return withBudgetHint(err)
				}
				container.EmitPull(args[0], id)
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			})
		},
	}
	o.register(cmd.Flags())
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return sessionCommand(cmd, 1)
}
