package image

import (
	"fmt"

	"go.podman.io/image/v5/docker/reference"
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
