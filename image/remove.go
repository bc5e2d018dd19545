package image

import (
	"errors"
	"fmt"
	"strings"

	cstorage "go.podman.io/storage"
)

// ErrInUse says an image cannot be removed while a container uses it.
var ErrInUse = errors.New("image is in use")

// Removal is what Remove did: either one name taken off an image that
// keeps others (Untagged), or the image deleted (Deleted, with the Names
// it had).
type Removal struct {
	Untagged string
	Deleted  string
	ID       string
	Names    []string
}

// Remove removes the image ref names, as `rmi` and DELETE /images/{name}:
// a name of an image with others is only untagged; otherwise the image is
// deleted, refused with ErrInUse while a container uses it unless force,
// which removes those containers too.
func Remove(store cstorage.Store, ref string, force bool) (Removal, error) {
	img, err := Lookup(store, ref, Options{})
	if err != nil {
		return Removal{}, fmt.Errorf("remove image %s: %w", ref, err)
	}
	if len(img.Names) > 1 && !strings.HasPrefix(img.ID, ref) {
		for _, n := range img.Names {
			if n == ref || strings.TrimSuffix(n, ":latest") == ref || strings.HasSuffix(n, "/"+ref) {
				if err := store.RemoveNames(img.ID, []string{n}); err != nil {
					return Removal{}, fmt.Errorf("untag %s: %w", n, err)
				}
				return Removal{Untagged: n, ID: img.ID}, nil
			}
		}
	}
	ctrs, err := store.Containers()
	if err != nil {
		return Removal{}, err
	}
	for _, c := range ctrs {
		if c.ImageID != img.ID {
			continue
		}
		if !force {
			name := ""
			if len(c.Names) > 0 {
				name = c.Names[0]
			}
			return Removal{}, fmt.Errorf("remove image %s: %w by container %s (%s); remove the container or use -f", ref, ErrInUse, c.ID[:12], name)
		}
		_, _ = store.Unmount(c.ID, true)
		if err := store.DeleteContainer(c.ID); err != nil {
			return Removal{}, fmt.Errorf("remove container %s: %w", c.ID[:12], err)
		}
	}
	if _, err := store.DeleteImage(img.ID, true); err != nil {
		return Removal{}, fmt.Errorf("remove image %s: %w", ref, err)
	}
	return Removal{Deleted: img.ID, ID: img.ID, Names: img.Names}, nil
}
