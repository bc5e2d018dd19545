package imagepull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
)

// errNoStream sends a pull back to copy.Image: the image uses something the
// streaming path leaves to containers/image (schema 1 manifests, encrypted
// or foreign layers, unknown media types).
var errNoStream = errors.New("not streamable")

// maxConfigSize bounds how much of an image configuration is read.
const maxConfigSize = 4 << 20

// streamableLayers are the layer media types the streaming path takes;
// storage detects the compression itself.
var streamableLayers = map[string]bool{
	imgspecv1.MediaTypeImageLayer:                  true,
	imgspecv1.MediaTypeImageLayerGzip:              true,
	imgspecv1.MediaTypeImageLayerZstd:              true,
	manifest.DockerV2Schema2LayerMediaType:         true,
	"application/vnd.docker.image.rootfs.diff.tar": true,
}

// pullStreaming pulls from a registry by streaming every layer straight
// into storage: download, digest check, decompression and unpacking happen
// in one pass with no temporary file, as `curl | gzip -dc | tar -x` would.
// containers/image's copy instead stores each blob in a temporary file and
// decompresses it twice (once for its digest, once to unpack), which is
// where most of a cold pull's time beyond the transfer goes.
//
// Every blob is still verified: the compressed stream against the
// manifest's digest and the unpacked layer against the config's diff_id. A
// layer that fails either check is deleted before the error is returned.
func pullStreaming(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, srcRef types.ImageReference, name reference.Named, o Options, sys *types.SystemContext) (string, error) {
	src, err := srcRef.NewImageSource(ctx, sys)
	if err != nil {
		return "", err
	}
	defer src.Close()

	top, topType, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", err
	}
	man, manType := top, topType
	var instance *digest.Digest
	if manifest.MIMETypeIsMultiImage(topType) {
		list, err := manifest.ListFromBlob(top, topType)
		if err != nil {
			return "", fmt.Errorf("parse manifest list: %w", err)
		}
		d, err := list.ChooseInstance(sys)
		if err != nil {
			return "", err
		}
		instance = &d
		if man, manType, err = src.GetManifest(ctx, instance); err != nil {
			return "", err
		}
		if !digestMatches(d, man) {
			return "", fmt.Errorf("manifest %s: content does not match its digest", d)
		}
	}
	if manType != imgspecv1.MediaTypeImageManifest && manType != manifest.DockerV2Schema2MediaType {
		return "", errNoStream
	}
	allowed, err := policy.IsRunningImageAllowed(ctx, image.UnparsedInstance(src, instance))
	if !allowed || err != nil {
		return "", fmt.Errorf("signature policy rejects %s: %w", transports.ImageName(srcRef), err)
	}
	m, err := manifest.FromBlob(man, manType)
	if err != nil {
		return "", fmt.Errorf("parse manifest: %w", err)
	}
	layers := m.LayerInfos()
	for _, l := range layers {
		if !streamableLayers[l.MediaType] || len(l.URLs) > 0 || l.CryptoOperation != types.PreserveOriginalCrypto {
			return "", errNoStream
		}
	}

	cfgInfo := m.ConfigInfo()
	cfgBlob, err := readBlob(ctx, src, cfgInfo, maxConfigSize)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", cfgInfo.Digest, err)
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(cfgBlob, &cfg); err != nil {
		return "", fmt.Errorf("parse config %s: %w", cfgInfo.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return "", fmt.Errorf("config %s lists %d layers, the manifest %d", cfgInfo.Digest, len(cfg.RootFS.DiffIDs), len(layers))
	}
	id := cfgInfo.Digest.Encoded()

	parent := ""
	var created []string // layers this pull added, bottom first
	for i, l := range layers {
		layerID, fresh, err := streamLayer(ctx, src, store, parent, l.BlobInfo, cfg.RootFS.DiffIDs[i], o.Progress)
		if err != nil {
			return "", err
		}
		if fresh {
			created = append(created, layerID)
		}
		parent = layerID
	}

	manDigest, err := manifest.Digest(man)
	if err != nil {
		return "", err
	}
	opts := &cstorage.ImageOptions{Digest: manDigest}
	bigData := []struct {
		key  string
		data []byte
		d    digest.Digest
	}{
		{cfgInfo.Digest.String(), cfgBlob, cfgInfo.Digest},
		{"manifest-" + manDigest.String(), man, manDigest},
		{cstorage.ImageDigestBigDataKey, man, manDigest},
	}
	if instance != nil {
		topDigest, err := manifest.Digest(top)
		if err != nil {
			return "", err
		}
		bigData = append(bigData, struct {
			key  string
			data []byte
			d    digest.Digest
		}{"manifest-" + topDigest.String(), top, topDigest})
	}
	for _, b := range bigData {
		opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: b.key, Data: b.data, Digest: b.d})
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "Writing manifest %s\n", manDigest)
	}
	img, err := store.CreateImage(id, nil, parent, "", opts)
	if errors.Is(err, cstorage.ErrDuplicateID) {
		// Pulled before, or by a concurrent pull that registered first. The
		// ID is the config digest, which names every diff_id, so the
		// existing image has the same content; drop the copies of its
		// layers that this pull made, and refresh its data.
		img, err = store.Image(id)
		if err == nil && img.TopLayer != parent {
			for i := len(created) - 1; i >= 0; i-- {
				_ = store.DeleteLayer(created[i])
			}
		}
		for _, b := range opts.BigData {
			if err == nil {
				err = store.SetImageBigData(id, b.Key, b.Data, manifest.Digest)
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("register image %s: %w", id, err)
	}
	if name != nil {
		if err := store.AddNames(img.ID, []string{name.String()}); err != nil {
			return "", fmt.Errorf("name image %s: %w", id, err)
		}
	}
	return img.ID, nil
}

// streamLayer makes sure a layer with the given diff ID exists on top of
// parent, downloading it only when storage has none; fresh says whether it
// was downloaded now.
func streamLayer(ctx context.Context, src types.ImageSource, store cstorage.Store, parent string, info types.BlobInfo, diffID digest.Digest, progress io.Writer) (id string, fresh bool, err error) {
	if layers, err := store.LayersByUncompressedDigest(diffID); err == nil {
		for _, l := range layers {
			if l.Parent == parent {
				if progress != nil {
					fmt.Fprintf(progress, "Copying blob %s skipped: already exists\n", info.Digest)
				}
				return l.ID, false, nil
			}
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "Copying blob %s\n", info.Digest)
	}
	rc, _, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return "", false, fmt.Errorf("fetch layer %s: %w", info.Digest, err)
	}
	defer rc.Close()
	if err := info.Digest.Validate(); err != nil {
		return "", false, fmt.Errorf("layer digest %q: %w", info.Digest, err)
	}
	verifier := info.Digest.Verifier()
	body := io.TeeReader(rc, verifier)
	layer, _, err := store.PutLayer("", parent, nil, "", false, &cstorage.LayerOptions{OriginalDigest: info.Digest}, body)
	if err != nil {
		return "", false, fmt.Errorf("unpack layer %s: %w", info.Digest, err)
	}
	// Storage stops at the tar's end; the digest covers the whole blob.
	if _, err := io.Copy(io.Discard, body); err != nil {
		_ = store.DeleteLayer(layer.ID)
		return "", false, fmt.Errorf("fetch layer %s: %w", info.Digest, err)
	}
	switch {
	case !verifier.Verified():
		err = fmt.Errorf("layer %s: downloaded content does not match its digest", info.Digest)
	case layer.UncompressedDigest != diffID:
		err = fmt.Errorf("layer %s: unpacked content %s does not match the config's diff_id %s", info.Digest, layer.UncompressedDigest, diffID)
	}
	if err != nil {
		_ = store.DeleteLayer(layer.ID)
		return "", false, err
	}
	return layer.ID, true, nil
}

// readBlob reads a small blob whole and checks its digest.
func readBlob(ctx context.Context, src types.ImageSource, info types.BlobInfo, limit int64) ([]byte, error) {
	rc, _, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	if !digestMatches(info.Digest, b) {
		return nil, errors.New("content does not match its digest")
	}
	return b, nil
}

func digestMatches(d digest.Digest, b []byte) bool {
	return d.Validate() == nil && d.Algorithm().FromBytes(b) == d
}
