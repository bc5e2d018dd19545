package transfer

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.podman.io/image/v5/transports/alltransports"
	imgtypes "go.podman.io/image/v5/types"

	"github.com/lodger-containers/lodger/image"
)

// newRegistry serves an in-process registry holding one random image.
func newRegistry(t *testing.T) (host string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	pushRandom(t, host+"/test/random:v1", 1024, 2)
	return host
}

// pushRandom pushes a random image of the given layers to ref.
func pushRandom(t *testing.T, ref string, layerSize int64, layers int64) {
	t.Helper()
	img, err := random.Image(layerSize, layers)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func TestPullAndLookup(t *testing.T) {
	host := newRegistry(t)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	ctx := context.Background()

	if _, err := image.Lookup(store, host+"/test/random:v1", opts); !errors.Is(err, image.ErrNotFound) {
		t.Fatalf("Lookup before pull: %v, want ErrNotFound", err)
	}
	id, err := Pull(ctx, store, host+"/test/random:v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 64 {
		t.Errorf("Pull returned %q, want a 64-hex image ID", id)
	}
	for _, ref := range []string{host + "/test/random:v1", "docker://" + host + "/test/random:v1", id, id[:12]} {
		if ref == "docker://"+host+"/test/random:v1" {
			continue // image.Lookup takes names, not transports
		}
		img, err := image.Lookup(store, ref, opts)
		if err != nil || img.ID != id {
			t.Errorf("Lookup(%q) = %v, %v; want image %s", ref, img, err, id)
		}
	}
	cfg, err := image.Config(ctx, store, id)
	if err != nil || len(cfg.RootFS.DiffIDs) != 2 {
		t.Errorf("Config: %+v, %v", cfg, err)
	}
}

func TestPullErrors(t *testing.T) {
	host := newRegistry(t)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	ctx := context.Background()

	_, err := Pull(ctx, store, host+"/test/missing:v1", opts)
	var pe *PullError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), host+"/test/missing:v1") {
		t.Errorf("missing image: %v, want a PullError naming the reference", err)
	}
	_, err = Pull(ctx, store, "127.0.0.1:1/x:y", opts)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable registry: %v, want the address named", err)
	}
	_, err = Pull(ctx, store, "UPPER/Case", opts)
	var me *image.MalformedError
	if !errors.As(err, &me) {
		t.Errorf("malformed reference: %v, want MalformedError", err)
	}
	imgs, _ := store.Images()
	if len(imgs) != 0 {
		t.Errorf("failed pulls left %d images behind", len(imgs))
	}
}

// corrupting wraps a registry so that, while on, every layer blob it
// serves has one byte flipped.
type corrupting struct {
	next http.Handler
	on   atomic.Bool
}

func (c *corrupting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.on.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	// Configs are JSON; flip a byte only in the (gzip) layers.
	if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
		body[len(body)/2] ^= 0xff
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func TestPullRejectsCorruptLayer(t *testing.T) {
	c := &corrupting{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	pushRandom(t, host+"/test/corrupt:v1", 4096, 2)
	store := newStore(t)
	insecure := false
	opts := image.Options{TLSVerify: &insecure}

	c.on.Store(true)
	_, err := Pull(context.Background(), store, host+"/test/corrupt:v1", opts)
	if err == nil {
		t.Fatal("pull of a corrupted layer succeeded")
	}
	layers, _ := store.Layers()
	imgs, _ := store.Images()
	if len(layers) != 0 || len(imgs) != 0 {
		t.Errorf("failed pull left %d layers and %d images behind", len(layers), len(imgs))
	}

	c.on.Store(false)
	if _, err := Pull(context.Background(), store, host+"/test/corrupt:v1", opts); err != nil {
		t.Errorf("pull after the registry recovered: %v", err)
	}
}

// TestPolicyWithoutFile: a machine with no policy.json anywhere (no
// podman, no containers-common) accepts any image rather than failing
// every pull.
func TestPolicyWithoutFile(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("CONTAINERS_POLICY_JSON", "")
	root := t.TempDir()
	sys := &imgtypes.SystemContext{RootForImplicitAbsolutePaths: root}
	ref, err := alltransports.ParseImageName("docker://localhost/test/unsigned:v1")
	if err != nil {
		t.Fatal(err)
	}
	// allowed reports what the policy found for sys says of an unsigned
	// image.
	allowed := func() (bool, error) {
		pc, err := policyContext(sys)
		if err != nil {
			return false, err
		}
		defer func() { _ = pc.Destroy() }()
		return pc.IsRunningImageAllowed(context.Background(), unsignedImage{ref})
	}
	if ok, err := allowed(); !ok || err != nil {
		t.Errorf("no policy file: allowed %v, %v; want an unsigned image accepted", ok, err)
	}

	// The controls: a policy.json where the first case found none is
	// read and obeyed, and one that cannot be read is an error, not a
	// licence to accept anything.
	file := filepath.Join(root, "etc/containers/policy.json")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(`{"default": [{"type": "reject"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := allowed(); ok || err == nil {
		t.Errorf("policy.json rejecting everything: allowed %v, %v; want the image refused", ok, err)
	}
	if err := os.WriteFile(file, []byte(`{"default": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := allowed(); ok || err == nil || !strings.Contains(err.Error(), "read signature policy") {
		t.Errorf("malformed policy.json: allowed %v, %v; want an error reading the policy", ok, err)
	}
}

// unsignedImage is an image with no signatures; the policy decides on its
// reference alone.
type unsignedImage struct{ ref imgtypes.ImageReference }

func (u unsignedImage) Reference() imgtypes.ImageReference { return u.ref }

func (unsignedImage) Manifest(context.Context) ([]byte, string, error) {
	return nil, "", errors.New("no manifest in this test")
}

func (unsignedImage) Signatures(context.Context) ([][]byte, error) { return nil, nil }
