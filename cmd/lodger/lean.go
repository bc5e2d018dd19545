//go:build !lodger_transfer

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// In lodger, the commands lodger-transfer carries out are stubs that hand
// the command line over (handoff.go).

func newPullCommand() *cobra.Command          { return pullDoc.stub() }
func newPushCommand() *cobra.Command          { return pushDoc.stub() }
func newSaveCommand() *cobra.Command          { return saveDoc.stub() }
func newLoadCommand() *cobra.Command          { return loadDoc.stub() }
func newLoginCommand() *cobra.Command         { return loginDoc.stub() }
func newLogoutCommand() *cobra.Command        { return logoutDoc.stub() }
func newSearchCommand() *cobra.Command        { return searchDoc.stub() }
func newBuildCommand() *cobra.Command         { return buildDoc.stub() }
func newBuilderCommand() *cobra.Command       { return builderDoc.stub() }
func newSystemServiceCommand() *cobra.Command { return systemServiceDoc.stub() }
func newSystemDfCommand() *cobra.Command      { return systemDfDoc.stub() }
func newSystemPruneCommand() *cobra.Command   { return systemPruneDoc.stub() }

// pullFunc is run's and create's pull. They hand over first when the
// image must be pulled (run.go); this is for an image removed between
// that check and run's own look.
func pullFunc(_ context.Context, _ cstorage.Store, ref string, _ image.Options) (string, error) {
	return "", fmt.Errorf("image %s: %w: it left local storage while lodger started; run the command again", ref, image.ErrNotFound)
}

// isTransfer says which binary this is.
const isTransfer = false
