//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBuildOutputs checks build --output (an image archive as docker save
// writes it, an OCI layout archive, the image's files as a tar or a
// directory), --format docker|oci (what a registry receives, and what the
// OCI format drops) and the cache flags lodger does not support yet.
func TestBuildOutputs(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
RUN echo made > /made && chmod 0600 /made && chown 1234:1234 /made
HEALTHCHECK --interval=7s CMD true
ONBUILD RUN true
SHELL ["/bin/sh", "-ec"]
CMD ["cat", "/made"]
`})
	out := t.TempDir()
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	iid := filepath.Join(out, "iid")

	// type=docker: docker save's archive, with the image's name and
	// configuration (its HEALTHCHECK kept).
	wantCode(t, e.lodger(t, "build", "-q", "--iidfile", iid, "-t", "outputs:v1", "--output", "type=docker,dest="+filepath.Join(out, "docker.tar"), dir), 0)
	id := strings.TrimPrefix(string(read("iid")), "sha256:")
	_, files := tarFiles(t, read("docker.tar"))
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal([]byte(files["manifest.json"]), &manifest); err != nil {
		t.Fatalf("docker archive manifest.json %q: %v", files["manifest.json"], err)
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || !strings.HasSuffix(manifest[0].RepoTags[0], "outputs:v1") {
		t.Fatalf("docker archive manifest %+v, want one image named outputs:v1", manifest)
	}
	if cfg := files[manifest[0].Config]; !strings.Contains(cfg, `"Healthcheck"`) || !strings.Contains(manifest[0].Config, id) {
		t.Errorf("docker archive config %s: %s, want image %s with its Healthcheck", manifest[0].Config, cfg, id)
	}
	// It loads into another store and runs.
	other := isolatedEnv(t)
	wantCode(t, other.lodger(t, "load", "-q", "-i", filepath.Join(out, "docker.tar")), 0)
	wantStdout(t, other.runRm(t, "outputs:v1", "cat", "/made"), "made\n")

	// type=oci: an OCI layout archive.
	wantCode(t, e.lodger(t, "build", "-q", "--output", "type=oci,dest="+filepath.Join(out, "oci.tar"), dir), 0)
	_, files = tarFiles(t, read("oci.tar"))
	if !strings.Contains(files["oci-layout"], "imageLayoutVersion") || !strings.Contains(files["index.json"], "manifests") {
		t.Errorf("oci archive: oci-layout %q, index.json %q", files["oci-layout"], files["index.json"])
	}

	// type=tar: the image's files, owners as in the image.
	wantCode(t, e.lodger(t, "build", "-q", "-o", "type=tar,dest="+filepath.Join(out, "files.tar"), dir), 0)
	names, files := tarFiles(t, read("files.tar"))
	if files["made"] != "made\n" || !contains(names, "bin/busybox") {
		t.Errorf("files tar: made %q; names %v", files["made"], names)
	}
	// - : the same tar on standard output.
	r := e.lodger(t, "build", "-o", "-", dir)
	wantCode(t, r, 0)
	if _, f := tarFiles(t, []byte(r.stdout)); f["made"] != "made\n" {
		t.Errorf("-o -: made is %q", f["made"])
	}
	wantBuildError(t, e.lodger(t, "build", "-q", "-o", "-", dir), "both write to standard output")
	// A directory: the files, the user's.
	local := filepath.Join(out, "local")
	wantCode(t, e.lodger(t, "build", "-q", "-o", local, dir), 0)
	if b, err := os.ReadFile(filepath.Join(local, "made")); err != nil || string(b) != "made\n" {
		t.Errorf("-o DIR: made %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(local, "made")); err == nil {
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Errorf("-o DIR: made is owned by %d, want the user %d", st.Uid, os.Getuid())
		}
	}

	// --format: a push sends Docker's schema 2 by default, OCI's with
	// --format oci, which drops HEALTHCHECK, ONBUILD and SHELL (with a
	// warning for each, as podman's does).
	for _, tc := range []struct{ format, mediaType string }{
		{"docker", "application/vnd.docker.distribution.manifest.v2+json"},
		{"oci", "application/vnd.oci.image.manifest.v1+json"},
	} {
		r := e.lodger(t, "build", "--format", tc.format, "-t", "outputs:"+tc.format, dir)
		wantCode(t, r, 0)
		warned := strings.Contains(r.stderr, "HEALTHCHECK is not supported for OCI image format") &&
			strings.Contains(r.stderr, "ONBUILD is not supported for OCI image format") && strings.Contains(r.stderr, "SHELL is not supported for OCI image format")
		health := inspectFormat(t, e, "outputs:"+tc.format, "{{json .Config.Healthcheck}}")
		if tc.format == "oci" {
			if !warned || health != "null" || inspectFormat(t, e, "outputs:oci", "{{json .Config.OnBuild}}") != "null" {
				t.Errorf("%s\n--format oci: Healthcheck %s; want it gone, with warnings", r, health)
			}
			if inspectFormat(t, e, "outputs:oci", "{{.Id}}") == inspectFormat(t, e, "outputs:docker", "{{.Id}}") {
				t.Error("--format oci made the same image as docker's, Docker's fields and all")
			}
		} else if warned || !strings.Contains(health, "7000000000") {
			t.Errorf("%s\n--format docker: Healthcheck %s, want it kept, without warnings", r, health)
		}
		repo := "lodger-test-build/outputs-" + tc.format
		wantCode(t, e.lodger(t, "push", noTLS, "outputs:"+tc.format, registry+"/"+repo+":latest"), 0)
		req, err := http.NewRequest("GET", "http://"+registry+"/v2/"+repo+"/manifests/latest", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ MediaType string }
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || m.MediaType != tc.mediaType {
			t.Errorf("--format %s pushed a %q manifest (%v), want %s", tc.format, m.MediaType, err, tc.mediaType)
		}
	}

	// The cache flags: --cache-to is refused, --cache-from warns.
	wantBuildError(t, e.lodger(t, "build", "--cache-to", "type=registry,ref=x/y", "-t", "outputs:nocache", dir), "--cache-to", "not supported yet")
	r = e.lodger(t, "build", "-q", "--cache-from", "type=registry,ref=x/y", dir)
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "--cache-from") || !strings.Contains(r.stderr, "not supported yet") {
		t.Errorf("%s\nwant a warning that --cache-from is not supported yet", r)
	}

	// Bad --output values, and a failed build: nothing written.
	for _, tc := range []struct{ value, word string }{
		{"type=registry", "not supported yet"},
		{"type=oci", "no dest"},
		{"type=zip,dest=x", "unknown type"},
		{"type=local,dest=-", "directory"},
	} {
		wantBuildError(t, e.lodger(t, "build", "-o", tc.value, dir), tc.word)
	}
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN false\n"})
	wantCode(t, e.lodger(t, "build", "-q", "-o", "type=tar,dest="+filepath.Join(out, "never.tar"), bad), 1)
	if _, err := os.Stat(filepath.Join(out, "never.tar")); err == nil {
		t.Error("a failed build wrote its --output")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 5 {
		var n []string
		for _, e := range ents {
			n = append(n, e.Name())
		}
		t.Errorf("the output directory holds %v, want iid, docker.tar, oci.tar, files.tar, local and nothing half-written", n)
	}
	noBuildLeftovers(t, e)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
