package transfer

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"

	// The transports lodger reads and writes images through, besides
	// docker and containers-storage, which the package names elsewhere:
	// importing one registers it. containers/image's alltransports would
	// also link docker-daemon (the moby client and OpenTelemetry, some 60
	// packages), sif, tarball and openshift, none of which lodger accepts,
	// into every lodger command: internal/layering keeps them out.
	_ "go.podman.io/image/v5/directory"
	_ "go.podman.io/image/v5/docker/archive"
	_ "go.podman.io/image/v5/oci/archive"
	_ "go.podman.io/image/v5/oci/layout"
)

// parseImageName reads TRANSPORT:REFERENCE through one of the transports
// above, as alltransports.ParseImageName does through all of them.
func parseImageName(name string) (types.ImageReference, error) {
	tname, within, ok := strings.Cut(name, ":")
	if !ok {
		return nil, fmt.Errorf("image name %q: want TRANSPORT:REFERENCE", name)
	}
	t := transports.Get(tname)
	if t == nil {
		return nil, fmt.Errorf("image name %q: unknown transport %q", name, tname)
	}
	return t.ParseReference(within)
}
