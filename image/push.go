package image

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
)

// Tag adds the normalized names to the image found as Lookup finds src
// and returns the names added.
func Tag(store cstorage.Store, src string, names ...string) ([]string, error) {
	img, err := Lookup(store, src, Options{})
	if err != nil {
		return nil, err
	}
	var add []string
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return nil, &MalformedError{Ref: n, Err: err}
		}
		if _, ok := named.(reference.Digested); ok {
			return nil, &MalformedError{Ref: n, Err: fmt.Errorf("a tag cannot name a digest")}
		}
		add = append(add, reference.TagNameOnly(named).String())
	}
	if err := store.AddNames(img.ID, add); err != nil {
		return nil, fmt.Errorf("add names to image %s: %w", shortID(img.ID), err)
	}
	return add, nil
}

// Untag removes names from the image found as Lookup finds ref; with no
// names it removes every name the image has. It returns the names removed.
func Untag(store cstorage.Store, ref string, names ...string) ([]string, error) {
	img, err := Lookup(store, ref, Options{})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if len(img.Names) == 0 {
			return nil, nil
		}
		if err := store.RemoveNames(img.ID, img.Names); err != nil {
			return nil, fmt.Errorf("remove names from image %s: %w", shortID(img.ID), err)
		}
		return img.Names, nil
	}
	var remove []string
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return nil, &MalformedError{Ref: n, Err: err}
		}
		full := reference.TagNameOnly(named).String()
		found := false
		for _, have := range img.Names {
			if have == full {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s is not a name of image %s: %w", full, shortID(img.ID), ErrNotFound)
		}
		remove = append(remove, full)
	}
	if err := store.RemoveNames(img.ID, remove); err != nil {
		return nil, fmt.Errorf("remove names from image %s: %w", shortID(img.ID), err)
	}
	return remove, nil
}

// Push copies the stored image src to dest, a transport reference or a
// registry name (docker:// is implied); an empty dest pushes to src's own
// name. It returns the digest of the manifest written.
func Push(ctx context.Context, store cstorage.Store, src, dest string, o Options) (digest.Digest, error) {
	img, err := Lookup(store, src, o)
	if err != nil {
		return "", err
	}
	if dest == "" {
		if strings.HasPrefix(img.ID, src) {
			return "", fmt.Errorf("push %s: an image ID names no registry: give a DESTINATION or tag the image first", src)
		}
		dest = src
	}
	if !HasTransport(dest) && !strings.HasPrefix(dest, "dir:") {
		named, err := reference.ParseNormalizedNamed(dest)
		if err != nil {
			return "", &MalformedError{Ref: dest, Err: err}
		}
		dest = "docker://" + reference.TagNameOnly(named).String()
	}
	destRef, err := parseImageName(dest)
	if err != nil {
		return "", &MalformedError{Ref: dest, Err: err}
	}
	srcRef, err := storageTransport.Transport.NewStoreReference(store, nil, img.ID)
	if err != nil {
		return "", err
	}
	sys := o.systemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer func() { _ = policy.Destroy() }()
	if report := o.Blobs; report != nil {
		// copy.Image counts the bytes it sends, compressed on the way,
		// against the size of the layer in storage, uncompressed: the
		// total is what was sent, known at the end.
		o.Blobs = func(p BlobProgress) {
			// The configuration goes up as a blob too, but it is no
			// layer: Docker's push lists layers alone.
			if p.Digest.Encoded() == img.ID {
				return
			}
			if p.Event == BlobDone {
				p.Total = p.Current
			} else if p.Event != BlobExists {
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
