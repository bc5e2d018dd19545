//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// What podman 4.3.1 wrote into tests/testdata/podman-save (its README
// says how); package image's unit test checks the same.
const (
	podmanHello     = "localhost/lodger-podman/hello:v1"
	podmanSecond    = "localhost/lodger-podman/second:v2"
	podmanHelloID   = "7c0975345c1d5cbb0d9115d25b0c984ea92b73ff566ec03d40a5e96e0d9b4455"
	podmanSecondID  = "fed6a57bfba55a28a0fd714bb2e8d7f8fed6ff3ad485773e72431dac58be6e45"
	podmanHelloOCI  = "sha256:8a1a27741626342bcaef3359badb1bd4755bbed7401d60a9563335dad9747b48"
	podmanHelloText = "hello from an image podman saved\n"
)

// imageFile returns the content of the file name (a path without the
// leading slash) in image, through a container created from it and
// exported: the podman test image has no program to run it with. (A
// program bind-mounted in with -v is not found: lodger looks the command
// up in the image before mounting.)
func (e *env) imageFile(t *testing.T, image, name string) string {
	t.Helper()
	r := e.lodger(t, "create", "-q", "--network", "none", image)
	wantCode(t, r, 0)
	ctr := strings.TrimSpace(r.stdout)
	defer e.lodger(t, "rm", ctr)
	r = e.lodger(t, "export", ctr)
	wantCode(t, r, 0)
	_, files := tarFiles(t, []byte(r.stdout))
	got, ok := files[name]
	if !ok {
		t.Fatalf("the exported filesystem of %s has no %s", image, name)
	}
	return got
}

// TestLoadPodmanSave loads each format podman save writes: the image keeps
// podman's ID, its name, the manifest digest of the OCI formats, and runs.
func TestLoadPodmanSave(t *testing.T) {
	if testData == "" {
		t.Fatal("LODGER_TEST_DATA is not set: give a copy of tests/testdata the test user can read (tests/e2e/run.sh does)")
	}
	dir := filepath.Join(testData, "podman-save")
	for _, tc := range []struct {
		path   string
		names  []string
		digest string
	}{
		{path: "docker-archive.tar", names: []string{podmanHello}},
		{path: "oci-archive.tar", names: []string{podmanHello}, digest: podmanHelloOCI},
		{path: "oci-dir", names: []string{podmanHello}, digest: podmanHelloOCI},
		{path: "docker-dir"},
		{path: "multi-image.tar", names: []string{podmanHello, podmanSecond}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := isolatedEnv(t)
			r := e.lodger(t, "load", "-q", "-i", filepath.Join(dir, tc.path))
			var want []string
			for _, n := range tc.names {
				want = append(want, "Loaded image: "+n)
			}
			if tc.names == nil {
				want = []string{"Loaded image: " + podmanHelloID}
			}
			wantStdout(t, r, strings.Join(want, "\n")+"\n")
			byID := map[string]imageRow{}
			for _, row := range e.images(t) {
				byID[row.ID] = row
			}
			hello, ok := byID[podmanHelloID]
			if !ok {
				t.Fatalf("images: %+v, want podman's ID %s", byID, podmanHelloID)
			}
			if tc.digest != "" && hello.Digest != tc.digest {
				t.Errorf("digest %s, want %s as in the archive", hello.Digest, tc.digest)
			}
			if _, ok := byID[podmanSecondID]; ok != (len(tc.names) == 2) {
				t.Errorf("images: %+v: second image %s present %v, want %v", byID, podmanSecondID, ok, len(tc.names) == 2)
			}
			if got := e.imageFile(t, podmanHelloID[:12], "hello"); got != podmanHelloText {
				t.Errorf("/hello holds %q, want %q", got, podmanHelloText)
			}
		})
	}
	t.Run("stdin", func(t *testing.T) {
		e := isolatedEnv(t)
		in, err := os.Open(filepath.Join(dir, "oci-archive.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		wantStdout(t, call{env: e, stdin: in}.run(t, "load", "-q"), "Loaded image: "+podmanHello+"\n")
		if got := e.imageFile(t, podmanHello, "hello"); got != podmanHelloText {
			t.Errorf("/hello holds %q, want %q", got, podmanHelloText)
		}
	})
	t.Run("not an image directory", func(t *testing.T) {
		e := isolatedEnv(t)
		wantError(t, e.lodger(t, "load", "-i", testData), 1, "neither an OCI image layout", "nor a docker-dir")
	})
}

// inspected is what TestSaveLoadDigests compares of `image inspect`.
type inspected struct {
	ID          string   `json:"Id"`
	RepoDigests []string `json:"RepoDigests"`
	RootFS      struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

func (e *env) inspectImage(t *testing.T, image string) inspected {
	t.Helper()
	r := e.lodger(t, "image", "inspect", image)
	wantCode(t, r, 0)
	var got []inspected
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	return got[0]
}

// ociIndexDigest returns the manifest digest an OCI layout's index.json
// lists, from a directory or from an oci-archive.
func ociIndexDigest(t *testing.T, path string) string {
	t.Helper()
	var data []byte
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		if data, err = os.ReadFile(filepath.Join(path, "index.json")); err != nil {
			t.Fatal(err)
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			hdr, err := tr.Next()
			if err != nil {
				t.Fatalf("%s: no index.json: %v", path, err)
			}
			if filepath.Clean(hdr.Name) == "index.json" {
				if data, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(data, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("%s: index.json %s: %v, want one manifest", path, data, err)
	}
	return index.Manifests[0].Digest
}

// TestSaveLoadDigests saves the test busybox in each format and loads it
// into another installation: the image keeps its ID (config digest) and
// layer digests, an OCI archive's manifest is stored under the digest the
// archive gives it, and saving the loaded image again writes the same
// manifest.
func TestSaveLoadDigests(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	orig := e.inspectImage(t, busybox)
	for _, format := range []string{"docker-archive", "oci-archive", "oci-dir"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(e.tmp, format)
			wantOK(t, e.lodger(t, "save", "-q", "--format", format, "-o", out, busybox))
			if err := exec.Command("chmod", "-R", "a+rX", out).Run(); err != nil {
				t.Fatal(err)
			}
			f := isolatedEnv(t)
			wantStdout(t, f.lodger(t, "load", "-q", "-i", out), "Loaded image: "+busybox+"\n")
			got := f.inspectImage(t, busybox)
			if got.ID != orig.ID || !slices.Equal(got.RootFS.Layers, orig.RootFS.Layers) {
				t.Errorf("loaded %+v, want ID %s and layers %v", got, orig.ID, orig.RootFS.Layers)
			}
			if format == "docker-archive" {
				return
			}
			d := ociIndexDigest(t, out)
			if !slices.ContainsFunc(got.RepoDigests, func(rd string) bool { return strings.HasSuffix(rd, "@"+d) }) {
				t.Errorf("loaded digests %s, want %s as in the archive", got.RepoDigests, d)
			}
			again := filepath.Join(f.tmp, format)
			wantOK(t, f.lodger(t, "save", "-q", "--format", format, "-o", again, busybox))
			if d2 := ociIndexDigest(t, again); d2 != d {
				t.Errorf("saved again as %s, first as %s: want the same manifest", d2, d)
			}
		})
	}
}

// TestRunPulledImageOffline pulls an image through a throwaway proxy in
// front of the test registry, then closes the proxy: running the pulled
// image must not need its registry (issue 6: a warm-cache run touches no
// network), while a pull through the closed proxy fails, which shows the
// registry is out of reach.
func TestRunPulledImageOffline(t *testing.T) {
	target, err := url.Parse("http://" + registry)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := host + "/lodger-test/busybox:latest"

	e := isolatedEnv(t)
	id := e.pull(t, img, noTLS)
	if requests.Load() == 0 {
		t.Fatal("the pull made no request through the proxy")
	}
	before := requests.Load()
	wantStdout(t, e.runRm(t, "--network", "none", img, "echo", "warm"), "warm\n")
	if n := requests.Load() - before; n != 0 {
		t.Errorf("a run of the pulled image made %d requests to its registry, want none", n)
	}

	srv.Close()
	for _, args := range [][]string{
		{img, "echo", "offline"},
		{"--pull", "missing", img, "echo", "offline"},
		{"--pull", "never", img, "echo", "offline"},
		{id[:12], "echo", "offline"},
	} {
		wantStdout(t, e.runRm(t, append([]string{"--network", "none"}, args...)...), "offline\n")
	}
	r := e.lodger(t, "run", "--rm", "-q", noTLS, "--network", "none", "--pull", "always", img, "true")
	if r.code == 0 {
		t.Errorf("%s\nwant a failure: --pull always through the closed proxy", r)
	}
	wantError(t, e.lodger(t, "pull", "-q", noTLS, img), 1, host)
}
