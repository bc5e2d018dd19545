package transfer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeRegistry serves hand-made images, byte for byte as the test says,
// where go-containerregistry's registry would refuse or repair them: blobs
// that do not match their descriptors, bodies that never end. Each blob or
// manifest may be replaced by a handler of the test's own.
type fakeRegistry struct {
	t    *testing.T
	host string

	mu        sync.Mutex
	manifests map[string]fakeObject // "name:tag" and "name@digest"
	blobs     map[digest.Digest]fakeObject
	requests  []string // "METHOD path", in order
}

type fakeObject struct {
	body        []byte
	contentType string
	// digest is sent as Docker-Content-Digest when not empty.
	digest digest.Digest
	// serve, when set, answers instead of body.
	serve http.HandlerFunc
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{t: t, manifests: map[string]fakeObject{}, blobs: map[digest.Digest]fakeObject{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	return f
}

var fakePath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs)/([^/]+)$`)

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if r.URL.Path == "/v2/" {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return
	}
	m := fakePath.FindStringSubmatch(r.URL.Path)
	if m == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	var obj fakeObject
	var ok bool
	if m[2] == "manifests" {
		sep := ":"
		if strings.Contains(m[3], ":") {
			sep = "@"
		}
		obj, ok = f.manifests[m[1]+sep+m[3]]
	} else {
		obj, ok = f.blobs[digest.Digest(m[3])]
	}
	f.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`)
		return
	}
	if obj.digest != "" {
		w.Header().Set("Docker-Content-Digest", obj.digest.String())
	}
	if obj.contentType != "" {
		w.Header().Set("Content-Type", obj.contentType)
	}
	if obj.serve != nil {
		obj.serve(w, r)
		return
	}
	if r.Method == http.MethodGet {
		_, _ = w.Write(obj.body)
	}
}

// fakeLayer is a layer blob as the registry serves it and the manifest and
// config describe it.
type fakeLayer struct {
	blob      []byte
	mediaType string
	diffID    digest.Digest
	// size, when not zero, is what the manifest claims instead of
	// len(blob).
	size int64
}

// put stores an image of the given layers under name:tag and returns the
// digests of its manifest and config.
func (f *fakeRegistry) put(name, tag string, layers ...fakeLayer) (manifestDigest, configDigest digest.Digest) {
	f.t.Helper()
	cfg := imgspecv1.Image{
		Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		RootFS:   imgspecv1.RootFS{Type: "layers"},
	}
	man := imgspecv1.Manifest{Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageManifest}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
		size := l.size
		if size == 0 {
			size = int64(len(l.blob))
		}
		d := digest.FromBytes(l.blob)
		man.Layers = append(man.Layers, imgspecv1.Descriptor{MediaType: l.mediaType, Digest: d, Size: size})
		f.putBlob(d, fakeObject{body: l.blob})
	}
	cfgBlob := mustJSON(f.t, cfg)
	configDigest = digest.FromBytes(cfgBlob)
	f.putBlob(configDigest, fakeObject{body: cfgBlob})
	man.Config = imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: configDigest, Size: int64(len(cfgBlob))}
	return f.putManifest(name, tag, mustJSON(f.t, man)), configDigest
}

// putManifest stores a manifest under name:tag and name@digest, served
// with its digest in Docker-Content-Digest.
func (f *fakeRegistry) putManifest(name, tag string, body []byte) digest.Digest {
	d := digest.FromBytes(body)
	obj := fakeObject{body: body, contentType: imgspecv1.MediaTypeImageManifest, digest: d}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manifests[name+":"+tag] = obj
	f.manifests[name+"@"+d.String()] = obj
	return d
}

func (f *fakeRegistry) putBlob(d digest.Digest, obj fakeObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobs[d] = obj
}

// setManifest replaces what is served for a manifest key ("name:tag" or
// "name@digest").
func (f *fakeRegistry) setManifest(key string, obj fakeObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manifests[key] = obj
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarFile is an uncompressed tar holding one regular file of size bytes
// (zeros, so that it compresses to almost nothing).
func tarFile(t *testing.T, name string, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bombTar streams, without holding it, a tar of one file of size zero
// bytes compressed with compress; it returns the compressed blob and the
// tar's digest.
func bombTar(t *testing.T, size int64, compress func(io.Writer) io.WriteCloser) ([]byte, digest.Digest) {
	t.Helper()
	var out bytes.Buffer
	cw := compress(&out)
	digester := digest.Canonical.Digester()
	tw := tar.NewWriter(io.MultiWriter(cw, digester.Hash()))
	if err := tw.WriteHeader(&tar.Header{Name: "bomb", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), digester.Digest()
}

func gzipWriter(w io.Writer) io.WriteCloser {
	gw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	return gw
}

func zstdWriter(w io.Writer) io.WriteCloser {
	zw, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	return zw
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func plainWriter(w io.Writer) io.WriteCloser { return nopWriteCloser{w} }

// compressBytes compresses b whole with compress.
func compressBytes(t *testing.T, b []byte, compress func(io.Writer) io.WriteCloser) []byte {
	t.Helper()
	var out bytes.Buffer
	cw := compress(&out)
	if _, err := cw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// endless answers with a body that never ends, until the client goes away.
func endless(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		return
	}
	chunk := bytes.Repeat([]byte("{"), 32<<10)
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if err := r.Context().Err(); err != nil {
			return
		}
	}
}
