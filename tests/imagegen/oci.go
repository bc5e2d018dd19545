package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

const (
	mediaTypeLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaTypeLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
	mediaTypeConfig    = "application/vnd.oci.image.config.v1+json"
	mediaTypeManifest  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeIndex     = "application/vnd.oci.image.index.v1+json"

	annotationRefName = "org.opencontainers.image.ref.name"
)

// epoch is the timestamp of every generated tar entry and config, so that
// rebuilding the test set yields the same digests.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type compression string

const (
	compressGzip compression = "gzip"
	compressZstd compression = "zstd"
)

func parseCompression(s string) (compression, error) {
	switch c := compression(s); c {
	case compressGzip, compressZstd:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q (want gzip or zstd)", s)
}

func (c compression) mediaType() string {
	if c == compressZstd {
		return mediaTypeLayerZstd
	}
	return mediaTypeLayerGzip
}

func (c compression) newWriter(w io.Writer) (io.WriteCloser, error) {
	switch c {
	case compressGzip:
		// The gzip header carries no name or mtime by default, so the
		// output only depends on the input.
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	case compressZstd:
		// One encoder goroutine keeps block boundaries, and thus the blob
		// digest, independent of the number of CPUs.
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type imageConfig struct {
	Created      time.Time       `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history,omitempty"`
}

// history is one entry of an image's history.
type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
}

type containerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Healthcheck  *healthConfig       `json:"Healthcheck,omitempty"`
}

// healthConfig is a Dockerfile's HEALTHCHECK as Docker writes it into an
// image's configuration (durations in nanoseconds).
type healthConfig struct {
	Test        []string      `json:"Test"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// layer is a layer blob together with the digest of its uncompressed tar,
// which the image config lists as diff_id.
type layer struct {
	desc   descriptor
	diffID string
}

// layout is an OCI image layout directory being filled in. Tagged images are
// only listed in index.json once finish is called.
type layout struct {
	dir  string
	refs []descriptor
}

func createLayout(dir string) (*layout, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("create layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return nil, fmt.Errorf("create layout: %w", err)
	}
	return &layout{dir: dir}, nil
}

func (l *layout) blobPath(digest string) string {
	return filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (l *layout) readBlob(digest string) ([]byte, error) {
	return os.ReadFile(l.blobPath(digest))
}

func (l *layout) writeBlob(mediaType string, data []byte) (descriptor, error) {
	sum := sha256.Sum256(data)
	d := descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if err := os.WriteFile(l.blobPath(d.Digest), data, 0o644); err != nil {
		return descriptor{}, fmt.Errorf("write blob %s: %w", d.Digest, err)
	}
	return d, nil
}

func (l *layout) writeJSON(mediaType string, v any) (descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return l.writeBlob(mediaType, data)
}

// writeLayer streams the tar written by fill through the compressor into a
// blob, hashing both sides on the way so that the layer is never held in
// memory (rootfs layers can be large).
func (l *layout) writeLayer(comp compression, fill func(*tar.Writer) error) (ly layer, err error) {
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "blobs", "sha256"), ".layer-*")
	if err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	blobHash := sha256.New()
	buf := bufio.NewWriterSize(io.MultiWriter(tmp, blobHash), 1<<20)
	zw, err := comp.newWriter(buf)
	if err != nil {
		return layer{}, err
	}
	diffHash := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diffHash))
	if err := fill(tw); err != nil {
		return layer{}, err
	}
	if err := tw.Close(); err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return layer{}, fmt.Errorf("compress layer: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	ly = layer{
		desc: descriptor{
			MediaType: comp.mediaType(),
			Digest:    "sha256:" + hex.EncodeToString(blobHash.Sum(nil)),
			Size:      size,
		},
		diffID: "sha256:" + hex.EncodeToString(diffHash.Sum(nil)),
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.blobPath(ly.desc.Digest)); err != nil {
		return layer{}, fmt.Errorf("write layer: %w", err)
	}
	return ly, nil
}

// writeImage stores cfg, with its rootfs filled in from layers, and a
// manifest referencing it.
func (l *layout) writeImage(cfg imageConfig, layers []layer) (descriptor, error) {
	cfg.RootFS = rootFS{Type: "layers", DiffIDs: []string{}}
	m := manifest{SchemaVersion: 2, MediaType: mediaTypeManifest, Layers: []descriptor{}}
	for _, ly := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, ly.diffID)
		m.Layers = append(m.Layers, ly.desc)
	}
	var err error
	if m.Config, err = l.writeJSON(mediaTypeConfig, cfg); err != nil {
		return descriptor{}, fmt.Errorf("write config: %w", err)
	}
	d, err := l.writeJSON(mediaTypeManifest, m)
	if err != nil {
		return descriptor{}, fmt.Errorf("write manifest: %w", err)
	}
	return d, nil
}

func (l *layout) writeIndex(manifests []descriptor) (descriptor, error) {
	d, err := l.writeJSON(mediaTypeIndex, index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: manifests})
	if err != nil {
		return descriptor{}, fmt.Errorf("write index: %w", err)
	}
	return d, nil
}

// tag lists d in index.json under name, which is how the oci: and
// oci-archive: transports find an image.
func (l *layout) tag(name string, d descriptor) {
	d.Annotations = map[string]string{annotationRefName: name}
	l.refs = append(l.refs, d)
}

func (l *layout) finish() error {
	refs := l.refs
	if refs == nil {
		refs = []descriptor{}
	}
	data, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: refs})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.dir, "index.json"), data, 0o644); err != nil {
		return fmt.Errorf("write index.json: %w", err)
	}
	return nil
}

// writeArchive tars the layout directory, which is all an oci-archive is.
func (l *layout) writeArchive(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".imagegen-*")
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	buf := bufio.NewWriterSize(tmp, 1<<20)
	tw := tar.NewWriter(buf)
	err = filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == l.dir {
			return err
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: epoch}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}
