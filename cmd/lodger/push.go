//go:build lodger_transfer

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/docker"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image/transfer"
)

type pushOptions struct {
	pullFlags
	quiet bool
}

func newPushCommand() *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:   pushDoc.use,
		Short: pushDoc.short,
		Long: `Push an image from local storage to a registry and print the digest of
the manifest written.

DESTINATION defaults to IMAGE's own name; a plain name means docker://NAME.
Other transports work too: oci:DIR[:REF], oci-archive:FILE[:REF],
docker-archive:FILE[:REF], dir:DIR.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%q requires 1 or 2 arguments (IMAGE [DESTINATION]), got %d\nSee 'lodger %s --help'.", cmd.CommandPath(), len(args), cmd.Name())
			}
			return nil
		},
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
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return interruptible(cmd, "push "+args[0], func(ctx context.Context) error {
				d, err := transfer.Push(ctx, store, args[0], dest, po)
				if err != nil {
					return withRegistryHint(err)
				}
				pushed := args[0]
				if dest != "" {
					pushed = dest
				}
				container.EmitImageRef("push", pushed)
				if !o.quiet {
					fmt.Fprintln(cmd.OutOrStdout(), d)
				}
				return nil
			})
		},
	}
	o.registerRegistry(cmd.Flags())
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return sessionCommand(cmd, 1)
}

// withRegistryHint adds what to do to the registry errors people meet
// most: a plain-http registry, and missing or wrong credentials.
func withRegistryHint(err error) error {
	var ec errcode.Error
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http reports this as a plain string, with no type to match.
		return fmt.Errorf("%w\nthe registry speaks plain http: use --tls-verify=false", err)
	case errors.As(err, new(docker.ErrUnauthorizedForCredentials)),
		errors.As(err, &ec) && (ec.Code == errcode.ErrorCodeUnauthorized || ec.Code == errcode.ErrorCodeDenied):
		return fmt.Errorf("%w\nlog in first with `lodger login REGISTRY`, or check that the repository exists and you may push to it", err)
	}
	return err
}
