package image

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// Summary is what `images` shows of one stored image.
type Summary struct {
	ID      string
	Names   []string
	Digest  string
	Created time.Time
	Size    int64
	Labels  map[string]string
	// Children counts the stored images built on this one (whose layers
	// hold its top layer below their own).
	Children int
	// Containers counts the containers made from it.
	Containers int
}

// Dangling images have no name.
func (s Summary) Dangling() bool { return len(s.Names) == 0 }

// Intermediate images have no name and other images built on them, as
// the steps of a build leave: images lists them with -a only.
func (s Summary) Intermediate() bool { return s.Dangling() && s.Children > 0 }

// List describes every stored image, newest first. Labels are read from
// the image configurations only when withLabels is set (a label filter
// asks for them): that opens every image.
func List(ctx context.Context, store cstorage.Store, withLabels bool) ([]Summary, error) {
	imgs, err := store.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	layers, err := store.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	ctrs, err := store.Containers()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	children := childCounts(imgs, layers)
	used := map[string]int{}
	for _, c := range ctrs {
		used[c.ImageID]++
	}
	out := make([]Summary, 0, len(imgs))
	for _, img := range imgs {
		size, err := store.ImageSize(img.ID)
		if err != nil {
			size = -1
		}
		s := Summary{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created, Size: size,
			Children: children[img.ID], Containers: used[img.ID]}
		if withLabels {
			if cfg, err := Config(ctx, store, img.ID); err == nil {
				s.Labels = cfg.Config.Labels
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// childCounts counts, for each image, the other images built on it:
// those whose layer chain holds its top layer below their own top, and
// those a build step made from it without a layer of their own (a
// configuration-only step, whose record names its parent), transitively.
func childCounts(imgs []cstorage.Image, layers []cstorage.Layer) map[string]int {
	parent := make(map[string]string, len(layers))
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	byTop := map[string][]string{}
	byID := map[string]*cstorage.Image{}
	for i, img := range imgs {
		byTop[img.TopLayer] = append(byTop[img.TopLayer], img.ID)
		byID[img.ID] = &imgs[i]
	}
	counts := map[string]int{}
	for i := range imgs {
		anc := map[string]bool{}
		seenImg := map[string]bool{}
		for x := &imgs[i]; x != nil && !seenImg[x.ID]; x = byID[buildParent(x.Metadata)] {
			seenImg[x.ID] = true
			anc[x.ID] = true
			seen := map[string]bool{}
			for l := parent[x.TopLayer]; l != "" && !seen[l]; l = parent[l] {
				seen[l] = true
				for _, id := range byTop[l] {
					anc[id] = true
				}
			}
		}
		delete(anc, imgs[i].ID)
		for id := range anc {
			counts[id]++
		}
	}
	return counts
}

// buildParent is the parent image a build step's record names, if any.
func buildParent(metadata string) string {
	if !strings.Contains(metadata, "lodger.parent") {
		return ""
	}
	var m struct {
		Parent string `json:"lodger.parent"`
	}
	if json.Unmarshal([]byte(metadata), &m) != nil {
		return ""
	}
	return m.Parent
}

// ImageFilter selects images as Docker's `images --filter` does: values
// of reference are alternatives, labels must all match, before and since
// must all hold, and different keys must all match.
type ImageFilter struct {
	dangling   *bool
	references []string
	labels     []string // KEY or KEY=VALUE
	before     []string
	since      []string
	// beforeT and sinceT are the creation times of the images before and
	// since name, from Resolve.
	beforeT, sinceT []time.Time
}

// ParseImageFilters reads --filter KEY=VALUE arguments.
func ParseImageFilters(args []string) (ImageFilter, error) {
	var f ImageFilter
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("--filter %q: want KEY=VALUE", a)
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "dangling":
			var b bool
			switch strings.ToLower(val) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return f, fmt.Errorf("--filter %q: dangling is true or false", a)
			}
			if f.dangling != nil && *f.dangling != b {
				return f, fmt.Errorf("--filter %q: dangling given both true and false", a)
			}
			f.dangling = &b
		case "reference":
			if _, err := path.Match(val, ""); err != nil || val == "" {
				return f, fmt.Errorf("--filter %q: want reference=PATTERN, such as busybox or 'example.com/*:v1'", a)
			}
			f.references = append(f.references, val)
		case "label":
			if val == "" || strings.HasPrefix(val, "=") {
				return f, fmt.Errorf("--filter %q: want label=KEY or label=KEY=VALUE", a)
			}
			f.labels = append(f.labels, val)
		case "before":
			if val == "" {
				return f, fmt.Errorf("--filter %q: want before=IMAGE", a)
			}
			f.before = append(f.before, val)
		case "since":
			if val == "" {
				return f, fmt.Errorf("--filter %q: want since=IMAGE", a)
			}
			f.since = append(f.since, val)
		default:
			return f, fmt.Errorf("--filter %q: unknown filter %q; use dangling, reference, label, before or since", a, key)
		}
	}
	return f, nil
}

// HasLabels reports whether the filter needs the images' labels.
func (f ImageFilter) HasLabels() bool { return len(f.labels) > 0 }

// Resolve looks up the images before and since name; one that is not
// stored is an error, as in Docker.
func (f *ImageFilter) Resolve(store cstorage.Store) error {
	look := func(refs []string) ([]time.Time, error) {
		var ts []time.Time
		for _, r := range refs {
			img, err := Lookup(store, r, Options{})
			if err != nil {
				return nil, fmt.Errorf("--filter: %w", err)
			}
			ts = append(ts, img.Created)
		}
		return ts, nil
	}
	var err error
	if f.beforeT, err = look(f.before); err != nil {
		return err
	}
	f.sinceT, err = look(f.since)
	return err
}

// Match reports whether s passes the filter and returns the names to show
// for it: those a reference filter matched, else all of them.
func (f ImageFilter) Match(s Summary) ([]string, bool) {
	if f.dangling != nil && *f.dangling != s.Dangling() {
		return nil, false
	}
	for _, l := range f.labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := s.Labels[k]
		if !ok || (hasValue && got != v) {
			return nil, false
		}
	}
	for _, t := range f.beforeT {
		if !s.Created.Before(t) {
			return nil, false
		}
	}
	for _, t := range f.sinceT {
		if !s.Created.After(t) {
			return nil, false
		}
	}
	if len(f.references) == 0 {
		return s.Names, true
	}
	var names []string
	for _, n := range s.Names {
		if slices.ContainsFunc(f.references, func(p string) bool { return matchReference(p, n) }) {
			names = append(names, n)
		}
	}
	return names, len(names) > 0
}

// matchReference matches a stored name against a reference pattern as
// Docker does: the pattern may name it in full or in the short form
// Docker shows (busybox for docker.io/library/busybox:latest), with or
// without its tag; * does not cross a slash.
func matchReference(pattern, name string) bool {
	forms := []string{name}
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		forms = append(forms, named.Name(), reference.FamiliarString(named), reference.FamiliarName(named))
	}
	for _, s := range forms {
		if ok, _ := path.Match(pattern, s); ok {
			return true
		}
	}
	return false
}
