package main

import (
	"errors"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// exists answers as podman's container exists and image exists: exit 0
// when found, 1 when not, nothing printed; any other failure is an error.
func existsResult(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cstorage.ErrContainerUnknown), errors.Is(err, cstorage.ErrImageUnknown), errors.Is(err, cstorage.ErrNotAnImage), errors.Is(err, image.ErrNotFound):
		return &exitCodeError{Code: 1}
	}
	return &exitCodeError{Code: 125, Err: err}
}

func newContainerExistsCommand() *cobra.Command {
	return sessionCommand(&cobra.Command{
		Use:   "exists CONTAINER",
		Short: "Exit 0 when a container exists, 1 when not (as podman's)",
		Args:  exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			_, err = store.Container(args[0])
			return existsResult(err)
		},
	}, 125)
}

func newImageExistsCommand() *cobra.Command {
	return sessionCommand(&cobra.Command{
		Use:   "exists IMAGE",
		Short: "Exit 0 when an image is in local storage, 1 when not (as podman's)",
		Args:  exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			_, err = image.Lookup(store, args[0], image.Options{})
			return existsResult(err)
		},
	}, 125)
}
