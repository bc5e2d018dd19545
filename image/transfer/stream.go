package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	cimage "go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/internal/unpack"
)

// errNoStream sends a pull back to copy.Image: the image uses something the
// streaming path leaves to containers/image (schema 1 manifests, encrypted
// or foreign layers, unknown media types).
var errNoStream = errors.New("not streamable")

// maxConfigSize bounds how much of an image configuration is read, as
// containers/image bounds manifests and configs (internal/iolimits).
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
// layer that fails either check is never completed in storage.
//
// want, when not empty, is the digest the registry gave for the tag (its
// Docker-Content-Digest); the manifest served must match it.
func pullStreaming(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, srcRef types.ImageReference, want digest.Digest, name reference.Named, o image.Options, sys *types.SystemContext) (string, error) {
	src, err := srcRef.NewImageSource(ctx, sys)
	if err != nil {
		return "", err
	}
	defer src.Close()

	top, topType, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("fetch manifest: %w", err)
	}
	if want != "" && !digestMatches(want, top) {
		return "", fmt.Errorf("manifest: content does not match the registry's digest %s", want)
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
			return "", fmt.Errorf("fetch manifest %s: %w", d, err)
		}
		if !digestMatches(d, man) {
			return "", fmt.Errorf("manifest %s: content does not match its digest", d)
		}
	}
	if manType != imgspecv1.MediaTypeImageManifest && manType != manifest.DockerV2Schema2MediaType {
		return "", errNoStream
	}
	allowed, err := policy.IsRunningImageAllowed(ctx, cimage.UnparsedInstance(src, instance))
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
	if cfgInfo.Size > maxConfigSize {
		return "", fmt.Errorf("config %s: %d bytes, more than the %s allowed: %w", cfgInfo.Digest, cfgInfo.Size, unpack.FormatBytes(maxConfigSize), image.ErrTooLarge)
	}
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

	prog := newProgress(ctx, o)
	defer prog.wait()
	parent := ""
	// Unnamed in the budget's errors: Pull's error names the candidate.
	budget := unpack.NewBudget("", o.UnpackLimit())
	var created []string // layers this pull added, bottom first
	for i, l := range layers {
		layerID, fresh, err := streamLayer(ctx, src, store, parent, l.BlobInfo, cfg.RootFS.DiffIDs[i], budget, prog)
		if err != nil {
			// Leave no layers of a failed pull behind. One that another
			// pull has built on or registered meanwhile is kept: storage
			// refuses to delete it.
			for i := len(created) - 1; i >= 0; i-- {
				_ = store.DeleteLayer(created[i])
			}
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
	prog.printf("Writing manifest %s\n", manDigest)
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
// was downloaded now. It takes the layer's unpacked size from budget.
//
// The blob is decompressed here rather than in storage, so that the
// unpacked size can be bounded (a few megabytes of gzip or zstd can
// unpack to terabytes). Storage gets the tar stream, told the blob's
// digest and size and the expected diff_id; the stream reports its end
// only once both digests have been checked, so a layer whose content does
// not match is never completed: storage removes it as it would a layer cut
// short.
func streamLayer(ctx context.Context, src types.ImageSource, store cstorage.Store, parent string, info types.BlobInfo, diffID digest.Digest, budget *unpack.Budget, prog *progress) (id string, fresh bool, err error) {
	have := func() (string, bool) {
		if layers, err := store.LayersByUncompressedDigest(diffID); err == nil {
			for _, l := range layers {
				if l.Parent == parent {
					return l.ID, true
				}
			}
		}
		return "", false
	}
	if id, ok := have(); ok {
		prog.skipped(info.Digest)
		return id, false, nil
	}
	if err := info.Digest.Validate(); err != nil {
		return "", false, fmt.Errorf("layer digest %q: %w", info.Digest, err)
	}
	if err := diffID.Validate(); err != nil {
		return "", false, fmt.Errorf("layer %s: diff_id %q: %w", info.Digest, diffID, err)
	}
	// Another of the user's processes may be pulling the same layer: wait
	// for it, then take what it made.
	unlock, err := lockLayer(ctx, store, diffID)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if id, ok := have(); ok {
		prog.skipped(info.Digest)
		return id, false, nil
	}
	// Storage's own race (see stagingRace) is met by unpacking again.
	for attempt := 1; ; attempt++ {
		id, err = putLayer(ctx, src, store, parent, info, diffID, budget, prog)
		if err == nil || attempt == 3 || !stagingRace(err) {
			return id, err == nil, err
		}
	}
}

// stagingRace says whether err is storage's failure to find a layer's
// staged files in its temporary directories. Storage stages a layer
// without holding its store lock, in two directories (the tar-split
// under overlay-layers/tmp, the unpacked files under overlay/tempdirs),
// and any other process that loads the layer store removes the
// directories there whose lock it can take: between storage making the
// lock file and locking it, another process can take, delete and release
// it, leaving the directory unguarded for the next one to remove while
// it is in use. Seen as "rename …/overlay-layers/tmp/temp-dir-…/0-addition
// …: no such file or directory" (TestRunPullsInParallel) and as the
// chrooted unpack's "unpacking failed (…; output: mkdir /usr: no such
// file or directory)", its root gone (TestUserNetworkParallel: 50 runs
// at once; TestPullUnpacksAgainWhenStagingVanishes plays it). The layer
// is then unpacked again. A layer whose own tar
// names a missing file (a hard link to nothing) is unpacked three times
// before its error is reported.
func stagingRace(err error) bool {
	msg := err.Error()
	notExist := errors.Is(err, fs.ErrNotExist) || strings.Contains(msg, "no such file or directory")
	return notExist && (strings.Contains(msg, "/temp-dir-") || strings.Contains(msg, "unpacking failed"))
}

// putLayer downloads the layer and gives it to storage on top of parent.
func putLayer(ctx context.Context, src types.ImageSource, store cstorage.Store, parent string, info types.BlobInfo, diffID digest.Digest, budget *unpack.Budget, prog *progress) (id string, err error) {
	bar := prog.start(info.Digest, info.Size)
	defer func() { bar.finish(err == nil) }()
	rc, _, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return "", fmt.Errorf("fetch layer %s: %w", info.Digest, err)
	}
	defer rc.Close()

	blob := &blobReader{r: rc, size: info.Size, verifier: info.Digest.Verifier(), bar: bar}
	unpacked, err := archive.DecompressStream(blob)
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", info.Digest, err)
	}
	defer unpacked.Close()
	meter := unpack.NewMeter(unpacked, budget, info.Digest)
	defer meter.Close()
	tar := &tarReader{r: meter, meter: meter, digester: digest.Canonical.Digester(), blob: blob, info: info, diffID: diffID}
	opts := &cstorage.LayerOptions{OriginalDigest: info.Digest, UncompressedDigest: diffID}
	if info.Size >= 0 {
		opts.OriginalSize = &info.Size
	}
	layer, _, err := store.PutLayer("", parent, nil, "", false, opts, tar)
	if err != nil {
		// Storage wraps what our readers returned; prefer ours, which name
		// the layer and say what was wrong.
		if tar.err != nil {
			return "", tar.err
		}
		return "", fmt.Errorf("unpack layer %s: %w", info.Digest, err)
	}
	if !tar.checked {
		// Storage stopped before the end of the stream (it reads to the
		// end today; this keeps the checks if it ever does not).
		if _, err := io.Copy(io.Discard, tar); err != nil {
			_ = store.DeleteLayer(layer.ID)
			if tar.err != nil {
				return "", tar.err
			}
			return "", fmt.Errorf("fetch layer %s: %w", info.Digest, err)
		}
	}
	return layer.ID, nil
}

// blobReader reads a layer blob as the manifest describes it: exactly size
// bytes (when the size is known), hashed as they pass. A body that goes on
// past the size is refused rather than read forever; one that stops short
// is an unexpected EOF. Reads are serialised, since a decompressor may read
// from a goroutine of its own while the stream's end is checked.
type blobReader struct {
	mu       sync.Mutex
	r        io.Reader
	size     int64 // -1: unknown
	n        int64
	verifier digest.Verifier
	err      error // the first error Read returned
	bar      *layerBar
}

func (b *blobReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *blobReader) read(p []byte) (int, error) {
	if b.size >= 0 {
		if b.n == b.size {
			// The body must end here.
			var one [1]byte
			n, err := io.ReadFull(b.r, one[:])
			if n > 0 {
				return 0, fmt.Errorf("body is longer than the %d bytes the manifest gives: %w", b.size, image.ErrTooLarge)
			}
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return 0, io.EOF
			}
			return 0, err
		}
		if rest := b.size - b.n; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	_, _ = b.verifier.Write(p[:n])
	b.bar.add(n)
	if err == io.EOF && b.size >= 0 && b.n < b.size {
		err = fmt.Errorf("body ends after %d of %d bytes: %w", b.n, b.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

// finish reads the rest of the blob and checks its digest.
func (b *blobReader) finish() error {
	if _, err := io.Copy(io.Discard, b); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.verifier.Verified() {
		return errors.New("downloaded content does not match its digest")
	}
	return nil
}

// tarReader is the unpacked layer as storage reads it, through the meter
// that charges its entries to the image's budget. At the end it checks the
// blob's digest and the diff_id before it reports io.EOF; any failure is
// kept in err, so the caller can report it whatever storage makes of it.
type tarReader struct {
	r        io.Reader
	meter    *unpack.Meter
	digester digest.Digester
	blob     *blobReader
	info     types.BlobInfo
	diffID   digest.Digest
	checked  bool
	err      error
}

func (t *tarReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.checked {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	_, _ = t.digester.Hash().Write(p[:n])
	switch {
	case err != nil && err != io.EOF && t.meter.Own() != nil && t.meter.Own() == err:
		// The meter's own: the budget, or a tar stream it cannot read.
		t.err = err
		return n, err
	case err == io.EOF:
		if ferr := t.blob.finish(); ferr != nil {
			t.err = fmt.Errorf("layer %s: %w", t.info.Digest, ferr)
		} else if got := t.digester.Digest(); got != t.diffID {
			t.err = fmt.Errorf("layer %s: unpacked content %s does not match the config's diff_id %s", t.info.Digest, got, t.diffID)
		}
		if t.err != nil {
			return n, t.err
		}
		t.checked = true
	case err != nil:
		// An error of the download passes through the decompressor;
		// anything else is the decompressor's own.
		t.blob.mu.Lock()
		blobErr := t.blob.err
		t.blob.mu.Unlock()
		if blobErr != nil {
			t.err = fmt.Errorf("layer %s: %w", t.info.Digest, blobErr)
		} else {
			t.err = fmt.Errorf("layer %s: decompress: %w", t.info.Digest, err)
		}
		return n, t.err
	}
	return n, err
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
		return nil, fmt.Errorf("more than the %s allowed: %w", unpack.FormatBytes(limit), image.ErrTooLarge)
	}
	if !digestMatches(info.Digest, b) {
		return nil, errors.New("content does not match its digest")
	}
	return b, nil
}

func digestMatches(d digest.Digest, b []byte) bool {
	return d.Validate() == nil && d.Algorithm().FromBytes(b) == d
}
