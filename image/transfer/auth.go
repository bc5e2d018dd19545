package transfer

import (
	"context"
	"fmt"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"

	"github.com/lodger-containers/lodger/image"
)

// Login checks username and password against registry and, when the
// registry accepts them, stores them in the auth file (by default
// $XDG_RUNTIME_DIR/containers/auth.json, as podman does). It returns the
// file written.
func Login(ctx context.Context, registry, username, password string, o image.Options) (string, error) {
	sys := o.SystemContext()
	if err := docker.CheckAuth(ctx, sys, username, password, registry); err != nil {
		return "", fmt.Errorf("log in to %s: %w", registry, err)
	}
	path, err := config.SetCredentials(sys, registry, username, password)
	if err != nil {
		return "", fmt.Errorf("store credentials for %s: %w", registry, err)
	}
	return path, nil
}

// CheckLogin checks username and password against registry without
// storing them, as the Engine API's /auth does: the client keeps them.
func CheckLogin(ctx context.Context, registry, username, password string, o image.Options) error {
	if err := docker.CheckAuth(ctx, o.SystemContext(), username, password, registry); err != nil {
		return fmt.Errorf("log in to %s: %w", registry, err)
	}
	return nil
}

// Logout removes the credentials for registry from the auth file, or every
// credential when registry is empty.
func Logout(registry string, o image.Options) error {
	sys := o.SystemContext()
	if registry == "" {
		if err := config.RemoveAllAuthentication(sys); err != nil {
			return fmt.Errorf("remove all credentials: %w", err)
		}
		return nil
	}
	if err := config.RemoveAuthentication(sys, registry); err != nil {
		return fmt.Errorf("log out of %s: %w", registry, err)
	}
	return nil
}
