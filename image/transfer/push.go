package transfer

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	storageTransport "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// Push copies the stored image src to dest, a transport reference or a
// registry name (docker:// is implied); an empty dest pushes to src's own
// name. It returns the digest of the manifest written.
func Push(ctx context.Context, store cstorage.Store, src, dest string, o image.Options) (digest.Digest, error) {
	img, err := image.Lookup(store, src, o)
	if err != nil {
		return "", err
	}
	if dest == "" {
		if strings.HasPrefix(img.ID, src) {
			return "", fmt.Errorf("push %s: an image ID names no registry: give a DESTINATION or tag the image first", src)
		}
		dest = src
	}
	if !image.HasTransport(dest) && !strings.HasPrefix(dest, "dir:") {
		named, err := reference.ParseNormalizedNamed(dest)
		if err != nil {
			return "", &image.MalformedError{Ref: dest, Err: err}
		}
		dest = "docker://" + reference.TagNameOnly(named).String()
	}
	destRef, err := parseImageName(dest)
	if err != nil {
		return "", &image.MalformedError{Ref: dest, Err: err}
	}
	srcRef, err := storageTransport.Transport.NewStoreReference(store, nil, img.ID)
	if err != nil {
		return "", err
	}
	sys := o.SystemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer func() { _ = policy.Destroy() }()
	if report := o.Blobs; report != nil {
		// copy.Image counts the bytes it sends, compressed on the way,
		// against the size of the layer in storage, uncompressed: the
		// total is what was sent, known at the end.
		o.Blobs = func(p image.BlobProgress) {
			// The configuration goes up as a blob too, but it is no
			// layer: Docker's push lists layers alone.
			if p.Digest.Encoded() == img.ID {
				return
			}
			if p.Event == image.BlobDone {
				p.Total = p.Current
			} else if p.Event != image.BlobExists {
				p.Total = -1
			}
			report(p)
		}
	}
	blobs, stop := copyProgress(o)
	man, err := copy.Image(ctx, policy, destRef, srcRef, &copy.Options{
		ReportWriter:     o.Progress,
		SourceCtx:        &types.SystemContext{},
		DestinationCtx:   sys,
		Progress:         blobs,
		ProgressInterval: copyProgressInterval,
	})
	stop()
	if err != nil {
		return "", fmt.Errorf("push %s to %s: %w", src, strings.TrimPrefix(dest, "docker://"), err)
	}
	return digest.FromBytes(man), nil
}
