package image

import (
	"context"
	"errors"
	"fmt"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/internal/prunefilter"
)

// PruneReport is what Prune removed, in Docker's words: "untagged: NAME"
// and "deleted: sha256:ID" lines, and the bytes of the layers that went.
type PruneReport struct {
	Removed   []string
	Reclaimed int64
}

// PruneOptions choose what Prune removes.
type PruneOptions struct {
	// All takes every image no container uses, not only dangling ones.
	All bool
	// Filter narrows it by the images' labels and creation time.
	Filter prunefilter.Filter
}

// Prune removes the dangling images (no name, no image built on them) or,
// with All, every image no container uses, as docker image prune [-a]
// does, of those o.Filter selects. Removing an image can leave its parent
// dangling: that goes too, until nothing more qualifies. A parent of a
// kept image stays, and so do layers other images or containers share.
func Prune(ctx context.Context, store cstorage.Store, o PruneOptions) (PruneReport, error) {
	all := o.All
	var rep PruneReport
	before, err := layerBytes(store)
	if err != nil {
		return rep, err
	}
	var errs []error
	failed := map[string]bool{}
	for {
		imgs, err := store.Images()
		if err != nil {
			return rep, fmt.Errorf("list images: %w", err)
		}
		layers, err := store.Layers()
		if err != nil {
			return rep, fmt.Errorf("list layers: %w", err)
		}
		ctrs, err := store.Containers()
		if err != nil {
			return rep, fmt.Errorf("list containers: %w", err)
		}
		used := map[string]bool{}
		for _, c := range ctrs {
			used[c.ImageID] = true
		}
		children := childCounts(imgs, layers)
		progress := false
		for _, img := range imgs {
			if failed[img.ID] || used[img.ID] || children[img.ID] > 0 || (!all && len(img.Names) > 0) {
				continue
			}
			if !o.Filter.Match(img.Created, imageLabels(ctx, store, img.ID, o.Filter.HasLabels())) {
				failed[img.ID] = true // kept: not looked at again
				continue
			}
			if _, err := store.DeleteImage(img.ID, true); err != nil {
				if !errors.Is(err, cstorage.ErrImageUnknown) && !errors.Is(err, cstorage.ErrNotAnImage) {
					errs = append(errs, fmt.Errorf("remove image %s: %w", shortID(img.ID), err))
				}
				failed[img.ID] = true
				continue
			}
			for _, n := range img.Names {
				rep.Removed = append(rep.Removed, "untagged: "+n)
			}
			rep.Removed = append(rep.Removed, "deleted: sha256:"+img.ID)
			progress = true
		}
		if !progress {
			break
		}
	}
	if after, err := layerBytes(store); err == nil && after < before {
		rep.Reclaimed = before - after
	}
	return rep, errors.Join(errs...)
}

// imageLabels reads an image's labels from its configuration when want
// is set (nil otherwise, or when it cannot be read).
func imageLabels(ctx context.Context, store cstorage.Store, id string, want bool) map[string]string {
	if !want {
		return nil
	}
	cfg, err := Config(ctx, store, id)
	if err != nil {
		return nil
	}
	return cfg.Config.Labels
}

// layerBytes sums the uncompressed sizes of the stored layers.
func layerBytes(store cstorage.Store) (int64, error) {
	layers, err := store.Layers()
	if err != nil {
		return 0, fmt.Errorf("list layers: %w", err)
	}
	var n int64
	for _, l := range layers {
		if l.UncompressedSize > 0 {
			n += l.UncompressedSize
		}
	}
	return n, nil
}

// Usage is the images' part of `system df`.
type Usage struct {
	Total, Active int
	// Size counts each layer of an image once, however many images share
	// it; Reclaimable is what removing every image no container uses
	// would free.
	Size, Reclaimable int64
	// Images is, by image ID, the bytes of its layers (Docker's image
	// Size, without the manifest and configuration storage also keeps)
	// and of those another image has too (Docker's SharedSize, from which
	// its CLI works out what removing one image would free).
	Images map[string]ImageUsage
}

// ImageUsage is one image's share of Usage.
type ImageUsage struct {
	Layers, Shared int64
}

// DiskUsage measures the stored images.
func DiskUsage(store cstorage.Store) (Usage, error) {
	var u Usage
	imgs, err := store.Images()
	if err != nil {
		return u, fmt.Errorf("list images: %w", err)
	}
	layers, err := store.Layers()
	if err != nil {
		return u, fmt.Errorf("list layers: %w", err)
	}
	ctrs, err := store.Containers()
	if err != nil {
		return u, fmt.Errorf("list containers: %w", err)
	}
	byID := make(map[string]cstorage.Layer, len(layers))
	for _, l := range layers {
		byID[l.ID] = l
	}
	used := map[string]bool{}
	for _, c := range ctrs {
		used[c.ImageID] = true
	}
	all, active := map[string]bool{}, map[string]bool{}
	// users counts the images each layer is in, chains walked once per
	// image (two images on one top layer share all of it).
	users := map[string]int{}
	chains := make([][]string, len(imgs))
	for i, img := range imgs {
		u.Total++
		if used[img.ID] {
			u.Active++
		}
		for id, n := img.TopLayer, 0; id != "" && n < len(byID); id, n = byID[id].Parent, n+1 {
			all[id] = true
			users[id]++
			chains[i] = append(chains[i], id)
			if used[img.ID] {
				active[id] = true
			}
		}
	}
	u.Images = make(map[string]ImageUsage, len(imgs))
	for i, img := range imgs {
		var iu ImageUsage
		for _, id := range chains[i] {
			if s := byID[id].UncompressedSize; s > 0 {
				iu.Layers += s
				if users[id] > 1 {
					iu.Shared += s
				}
			}
		}
		u.Images[img.ID] = iu
	}
	size := func(set map[string]bool) int64 {
		var n int64
		for id := range set {
			if s := byID[id].UncompressedSize; s > 0 {
				n += s
			}
		}
		return n
	}
	u.Size = size(all)
	u.Reclaimable = u.Size - size(active)
	return u, nil
}
