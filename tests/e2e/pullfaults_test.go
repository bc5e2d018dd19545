//go:build e2e

package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// throttle is a proxy in front of the test registry that, while slow is
// set, serves the first 128 KiB of a blob body at about 320 KB/s, reports
// on sent, and holds the rest back until the client goes: a pull under
// way stays under way for as long as a loaded machine takes to signal
// it, and one that goes on regardless never ends.
type throttle struct {
	host string
	slow atomic.Bool
	sent chan struct{}
	once sync.Once
}

func newThrottle(t *testing.T) *throttle {
	t.Helper()
	th := &throttle{sent: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registry})
	proxy.ModifyResponse = func(res *http.Response) error {
		if th.slow.Load() && res.Request.Method == http.MethodGet && strings.Contains(res.Request.URL.Path, "/blobs/") && res.ContentLength > 256<<10 {
			res.Body = &slowBody{ReadCloser: res.Body, th: th, gone: res.Request.Context().Done()}
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	th.host = strings.TrimPrefix(srv.URL, "http://")
	return th
}

type slowBody struct {
	io.ReadCloser
	th   *throttle
	gone <-chan struct{} // closed when the client has gone
	n    int
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.n >= 128<<10 {
		b.th.once.Do(func() { close(b.th.sent) })
		<-b.gone
		return 0, errors.New("the client went")
	}
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	time.Sleep(100 * time.Millisecond)
	n, err := b.ReadCloser.Read(p)
	b.n += n
	return n, err
}

// layerDirRE matches the layer directories layerDirs lists, not storage's
// own (overlay/tempdirs, where removed layers wait to be deleted).
var layerDirRE = regexp.MustCompile(`/[0-9a-f]{64}$`)

// wantOneGoodImage checks that e holds image, and only it, that it
// inspects and runs, and that storage has no layer beyond the image's.
func wantOneGoodImage(t *testing.T, e *env, image, id string) {
	t.Helper()
	rows := e.images(t)
	if len(rows) != 1 || !strings.HasPrefix(id, rows[0].ID) || !slices.Contains(rows[0].Names, image) {
		t.Errorf("images: %+v; want only %s named %s", rows, id, image)
	}
	wantCode(t, e.lodger(t, "image", "inspect", image), 0)
	wantStdout(t, e.runRm(t, image, "echo", "whole"), "whole\n")
	r := e.lodger(t, "image", "history", "--format", "json", image)
	wantCode(t, r, 0)
	in := e.info(t)
	if in.Storage.Images != 1 {
		t.Errorf("info: %d images, want 1", in.Storage.Images)
	}
	// The busybox test image has one layer; a container made none that
	// outlives --rm.
	var layers []string
	for _, d := range layerDirs(t, in.Storage.GraphRoot) {
		if layerDirRE.MatchString(d) {
			layers = append(layers, d)
		}
	}
	if len(layers) != 1 {
		t.Errorf("layer directories %v; want the image's one layer only", layers)
	}
}

// TestPullKilled kills a pull with SIGKILL while a layer is streaming in
// through a slow proxy; the next pull must succeed and leave one whole
// image.
func TestPullKilled(t *testing.T) {
	e := isolatedEnv(t)
	th := newThrottle(t)
	th.slow.Store(true)
	image := th.host + "/lodger-test/busybox:latest"

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "pull", "-q", noTLS, image)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-th.sent:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the pull did not start downloading a layer through the proxy:\n%s", out.String())
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the pull ended before it was killed (%v):\n%s", err, out.String())
	}

	th.slow.Store(false)
	id := e.pull(t, image, noTLS)
	wantOneGoodImage(t, e, image, id)
}

// TestConcurrentPulls pulls one image from five processes at once into
// one store.
func TestConcurrentPulls(t *testing.T) {
	e := isolatedEnv(t)
	const n = 5
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = call{env: e}.do("pull", "-q", noTLS, busybox)
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		wantCode(t, results[i], 0)
		ids[strings.TrimSpace(results[i].stdout)] = true
	}
	if len(ids) != 1 {
		t.Fatalf("five pulls of one image gave ids %v", ids)
	}
	var id string
	for id = range ids {
	}
	wantOneGoodImage(t, e, busybox, id)
}

// TestPullDiskFull pulls into a graph root on a tmpfs too small for the
// image, mounted in the session's mount namespace (an unprivileged user
// cannot mount one on the host, but root of the session's user namespace
// can): the error says the disk is full, nothing is left registered, and
// once there is room the same pull works.
func TestPullDiskFull(t *testing.T) {
	e := isolatedEnv(t)
	small := filepath.Join(e.dir, "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	// The busybox test image unpacks to about 2 MiB; storage's own files
	// take a few KiB.
	wantCode(t, e.lodger(t, "unshare", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small), 0)
	root := "--root=" + filepath.Join(small, "graph")

	r := e.lodger(t, root, "pull", "-q", noTLS, busybox)
	wantError(t, r, 1, busybox, "no space left on device")
	t.Logf("full disk:\n%s", r.stderr)
	if rows := e.images(t); len(rows) != 0 {
		// images looks at the default graph root; it must be empty too.
		t.Errorf("images in the default graph root: %+v", rows)
	}
	r = e.lodger(t, root, "images", "-q")
	wantStdout(t, r, "")
	// The tmpfs is mounted in the session's mount namespace only.
	r = e.lodger(t, "unshare", "find", filepath.Join(small, "graph"), "-maxdepth", "2", "-type", "d", "-regex", ".*/[0-9a-f]\\{64\\}")
	wantCode(t, r, 0)
	if r.stdout != "" {
		t.Errorf("layer directories left on the full disk:\n%s", r.stdout)
	}
	wantCode(t, e.lodger(t, "unshare", "df", "-h", small), 0)

	wantCode(t, e.lodger(t, "unshare", "mount", "-o", "remount,size=64m", small), 0)
	r = e.lodger(t, root, "pull", "-q", noTLS, busybox)
	wantCode(t, r, 0)
	wantStdout(t, e.lodger(t, root, "run", "--rm", "-q", busybox, "echo", "room"), "room\n")
}
