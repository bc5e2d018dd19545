package transfer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	storageTransport "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image"
)

// Archive formats Save writes.
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIArchive    = "oci-archive"
	FormatOCIDir        = "oci-dir"
)

// savedImage is one image to save and the name it goes under.
type savedImage struct {
	ref  types.ImageReference // in storage
	name reference.NamedTagged
}

// Save writes the stored images refs to path in format. A docker-archive
// holds several images; an oci-archive one; an oci-dir layout several,
// each under its tag. A docker-archive keeps every image's ID (its config
// digest); the OCI formats keep it for OCI images only, because
// containers/image re-encodes a Docker config when it converts the
// manifest to OCI. Archives are written to a temporary file beside
// path and renamed, so a failed save leaves no partial file behind.
func Save(ctx context.Context, store cstorage.Store, refs []string, path, format string, o image.Options) error {
	if format == "" {
		format = FormatDockerArchive
	}
	switch format {
	case FormatDockerArchive, FormatOCIDir:
	case FormatOCIArchive:
		if len(refs) > 1 {
			return fmt.Errorf("save %s: %w: an oci-archive holds one image; use docker-archive or oci-dir for several", strings.Join(refs, " "), image.ErrFormat)
		}
	default:
		return fmt.Errorf("save: %w %q: use docker-archive, oci-archive or oci-dir", image.ErrFormat, format)
	}
	var imgs []savedImage
	for _, r := range refs {
		img, err := image.Lookup(store, r, o)
		if err != nil {
			return fmt.Errorf("save %s: %w", r, err)
		}
		src, err := storageTransport.Transport.NewStoreReference(store, nil, img.ID)
		if err != nil {
			return err
		}
		imgs = append(imgs, savedImage{ref: src, name: savedName(img, r)})
	}
	sys := o.SystemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return err
	}
	defer func() { _ = policy.Destroy() }()
	cp := func(dest types.ImageReference, src savedImage, what string) error {
		_, err := copy.Image(ctx, policy, dest, cancelableRef{src.ref}, &copy.Options{ReportWriter: o.Progress, SourceCtx: sys, DestinationCtx: sys})
		if err == nil {
			// Finished, or stopped between blobs without a word.
			err = ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", what, err)
		}
		return nil
	}

	if format == FormatOCIDir {
		for i, img := range imgs {
			tag := ""
			if img.name != nil {
				tag = img.name.String()
			}
			dest, err := ocilayout.NewReference(path, tag)
			if err != nil {
				return fmt.Errorf("save %s: %w", refs[i], err)
			}
			if err := cp(dest, img, refs[i]); err != nil {
				return err
			}
		}
		return nil
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), ".lodger-save-*")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpPath)
		}
	}()
	if format == FormatOCIArchive {
		tag := ""
		if imgs[0].name != nil {
			tag = imgs[0].name.String()
		}
		dest, err := ociarchive.NewReference(tmpPath, tag)
		if err != nil {
			return fmt.Errorf("save %s: %w", refs[0], err)
		}
		if err := cp(dest, imgs[0], refs[0]); err != nil {
			return err
		}
	} else {
		w, err := archive.NewWriter(sys, tmpPath)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		for i, img := range imgs {
			dest, err := w.NewReference(img.name)
			if err == nil {
				err = cp(dest, img, refs[i])
			}
			if err != nil {
				w.Close()
				return err
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	if err := os.Chmod(tmpPath, 0o644); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	ok = true
	return nil
}

// SaveTo writes an archive of refs to w, through a temporary file: the
// archive writers need a seekable file.
func SaveTo(ctx context.Context, store cstorage.Store, refs []string, w io.Writer, format string, o image.Options) error {
	if format == FormatOCIDir {
		return fmt.Errorf("save: %w: an oci-dir layout needs -o DIR", image.ErrFormat)
	}
	dir, err := os.MkdirTemp("", "lodger-save-")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "archive.tar")
	if err := Save(ctx, store, refs, path, format, o); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("save: write archive: %w", err)
	}
	return nil
}

// savedName is the name an image goes under in an archive: the name the
// user typed when the image has it, else its first tagged name, else none
// (an image saved by ID, as docker save does).
func savedName(img *cstorage.Image, ref string) reference.NamedTagged {
	if strings.HasPrefix(img.ID, ref) {
		return nil
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		full := reference.TagNameOnly(named).String()
		for _, n := range img.Names {
			if n == full {
				if t, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
					return t
				}
			}
		}
	}
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		if t, ok := named.(reference.NamedTagged); ok {
			return t
		}
	}
	return nil
}

// LoadedImage is one image Load put in the store.
type LoadedImage struct {
	ID    string
	Names []string
}

// Load copies every image of the docker-archive or oci-archive at path
// into store, keeping their IDs (config digests) and the names the archive
// gives them. A directory is read as an OCI image layout (every image of
// its index, as oci-dir saves them) or as what podman save --format
// docker-dir writes (one image, without a name).
func Load(ctx context.Context, store cstorage.Store, path string, o image.Options) ([]LoadedImage, error) {
	sys := o.SystemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = policy.Destroy() }()

	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if fi.IsDir() {
		return loadDir(ctx, policy, store, path, o, sys)
	}
	reader, dockerErr := archive.NewReader(sys, path)
	if dockerErr == nil {
		defer reader.Close()
		return loadDockerArchive(ctx, policy, store, reader, o, sys)
	}
	src, err := ociarchive.NewReference(path, "")
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if _, err := ociarchive.LoadManifestDescriptorWithContext(sys, src); err != nil {
		// Not an OCI layout either: what the docker-archive reader said is
		// the more useful of the two.
		return nil, fmt.Errorf("load %s: %w: neither a docker-archive (%v) nor an oci-archive", path, image.ErrFormat, dockerErr)
	}
	loaded, err := loadOCIArchive(ctx, policy, store, path, o, sys)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return []LoadedImage{loaded}, nil
}

// loadOCIArchive loads the one image of an oci-archive under the name in
// its index's ref.name annotation: a full name as it is, a short one such
// as "busybox:latest" under localhost/, as podman does.
func loadOCIArchive(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, path string, o image.Options, sys *types.SystemContext) (LoadedImage, error) {
	src, err := ociarchive.NewReference(path, "")
	if err != nil {
		return LoadedImage{}, err
	}
	var name reference.Named
	if desc, err := ociarchive.LoadManifestDescriptorWithContext(sys, src); err == nil {
		name = ociRefName(desc.Annotations[imgspecv1.AnnotationRefName])
	}
	return loadImage(ctx, policy, store, src, name, o, sys)
}

// loadDir loads the images of an OCI image layout, each under the name in
// its ref.name annotation, or the one image of a dir: transport directory
// (podman's docker-dir), which has no name.
func loadDir(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, dir string, o image.Options, sys *types.SystemContext) ([]LoadedImage, error) {
	if _, err := os.Stat(filepath.Join(dir, imgspecv1.ImageLayoutFile)); err == nil {
		list, err := ocilayout.List(dir)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		var out []LoadedImage
		for i, item := range list {
			// By index: a ref.name that is a full name is not one the
			// layout transport can look up.
			src, err := ocilayout.NewIndexReference(dir, i)
			if err != nil {
				return out, fmt.Errorf("load %s: %w", dir, err)
			}
			loaded, err := loadImage(ctx, policy, store, src, ociRefName(item.ManifestDescriptor.Annotations[imgspecv1.AnnotationRefName]), o, sys)
			if err != nil {
				return out, fmt.Errorf("load %s: %w", dir, err)
			}
			out = append(out, loaded)
		}
		return out, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		src, err := directory.NewReference(dir)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		loaded, err := loadImage(ctx, policy, store, src, nil, o, sys)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		return []LoadedImage{loaded}, nil
	}
	return nil, fmt.Errorf("load %s: %w: a directory that is neither an OCI image layout (no oci-layout file) nor a docker-dir (no manifest.json)", dir, image.ErrFormat)
}

// loadImage copies the image src into store under name (none when nil),
// keeping its ID.
func loadImage(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, name reference.Named, o image.Options, sys *types.SystemContext) (LoadedImage, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return LoadedImage{}, err
	}
	id := configID(img)
	img.Close()
	// An image already here (pulled, committed, loaded before) is the same
	// image: Docker's load then only names it. Copying it again fails in
	// storage when its layers were made another way ("already exists, but
	// uses a different top layer").
	if _, err := store.Image(id); id != "" && err == nil {
		if name != nil {
			if err := store.AddNames(id, []string{reference.TagNameOnly(name).String()}); err != nil {
				return LoadedImage{}, fmt.Errorf("load image %s: name it %s: %w", shortID(id), name, err)
			}
		}
	} else {
		stored, err := copyMetered(ctx, policy, store, src, name, id, "", o, sys)
		if err != nil {
			if id == "" {
				return LoadedImage{}, fmt.Errorf("load image: %w", err)
			}
			return LoadedImage{}, fmt.Errorf("load image %s: %w", shortID(id), err)
		}
		// id, or the one storage made up for a named schema 1 image,
		// which has no config digest.
		id = stored
	}
	l := LoadedImage{ID: id}
	if name != nil {
		l.Names = []string{name.String()}
	}
	return l, nil
}

// ociRefName turns an OCI ref.name annotation into a stored name, or nil
// when it is empty or not a name (a bare tag such as "v1").
func ociRefName(ann string) reference.Named {
	if ann == "" {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(ann)
	if err != nil {
		return nil
	}
	first, _, found := strings.Cut(ann, "/")
	if !found || !strings.ContainsAny(first, ".:") && first != "localhost" {
		if named, err = reference.ParseNormalizedNamed("localhost/" + ann); err != nil {
			return nil
		}
	}
	return reference.TagNameOnly(named)
}

func loadDockerArchive(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, reader *archive.Reader, o image.Options, sys *types.SystemContext) ([]LoadedImage, error) {
	list, err := reader.List()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []LoadedImage
	for _, refs := range list {
		if len(refs) == 0 {
			continue
		}
		img, err := refs[0].NewImage(ctx, sys)
		if err != nil {
			return out, fmt.Errorf("load: open image: %w", err)
		}
		id := configID(img)
		img.Close()
		var names []string
		for _, r := range refs {
			if n := r.DockerReference(); n != nil {
				names = append(names, reference.TagNameOnly(n).String())
			}
		}
		var first reference.Named
		if len(names) > 0 {
			first = refs[0].DockerReference()
		}
		// As in loadImage: an image already here is only named.
		present := false
		if _, err := store.Image(id); err == nil {
			present = true
		} else if _, err := copyMetered(ctx, policy, store, refs[0], first, id, "", o, sys); err != nil {
			return out, fmt.Errorf("load image %s: %w", shortID(id), err)
		}
		if add := names; len(add) > 1 || (present && len(add) > 0) {
			if !present {
				add = add[1:]
			}
			if err := store.AddNames(id, add); err != nil {
				return out, fmt.Errorf("name image %s: %w", shortID(id), err)
			}
		}
		out = append(out, LoadedImage{ID: id, Names: names})
	}
	return out, nil
}

// LoadFrom loads the archive read from r (stdin, say) through a temporary
// file: both archive readers need a seekable file.
func LoadFrom(ctx context.Context, store cstorage.Store, r io.Reader, o image.Options) ([]LoadedImage, error) {
	f, err := os.CreateTemp("", "lodger-load-*.tar")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("load: read archive: %w", err)
	}
	return Load(ctx, store, f.Name(), o)
}
