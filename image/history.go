package image

import (
	"context"
	"time"

	cstorage "go.podman.io/storage"
)

// HistoryEntry is one step that built an image, newest last as in the
// image configuration. Size is that of the layer the step made, 0 for
// steps that made none.
type HistoryEntry struct {
	ID         string    `json:"id"` // the image ID on the newest entry, "<missing>" elsewhere
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"createdBy"`
	Size       int64     `json:"size"`
	Comment    string    `json:"comment"`
	EmptyLayer bool      `json:"emptyLayer"`
}

// History reads the build history of the image found as Lookup finds ref,
// with the size of each layer from storage. An image whose configuration
// has no history gets one entry per layer.
func History(ctx context.Context, store cstorage.Store, ref string) ([]HistoryEntry, error) {
	img, err := Lookup(store, ref, Options{})
	if err != nil {
		return nil, err
	}
	cfg, err := Config(ctx, store, img.ID)
	if err != nil {
		return nil, err
	}
	// Storage records layers from the top down through Parent.
	var sizes []int64
	for id := img.TopLayer; id != ""; {
		l, err := store.Layer(id)
		if err != nil {
			break
		}
		sizes = append([]int64{l.UncompressedSize}, sizes...)
		id = l.Parent
	}
	var out []HistoryEntry
	if len(cfg.History) == 0 {
		for _, s := range sizes {
			out = append(out, HistoryEntry{ID: "<missing>", Size: s})
		}
	}
	layer := 0
	for _, h := range cfg.History {
		e := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer {
			if layer < len(sizes) {
				e.Size = sizes[layer]
			}
			layer++
		}
		out = append(out, e)
	}
	if len(out) > 0 {
		out[len(out)-1].ID = img.ID
	}
	return out, nil
}
