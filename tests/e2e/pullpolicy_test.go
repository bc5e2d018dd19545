//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

func TestPullPolicyAndPlatform(t *testing.T) {
	e := isolatedEnv(t)
	multi := ref("multiarch:latest")

	// --pull never: only local images.
	wantError(t, e.lodger(t, "run", "--rm", "--pull", "never", busybox, "true"), 125, "--pull=never")
	r := e.lodger(t, "run", "--rm", noTLS, busybox, "true")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("%s\nwant the first run to pull", r)
	}
	r = e.lodger(t, "run", "--rm", "--pull", "never", busybox, "true")
	wantCode(t, r, 0)
	r = e.lodger(t, "run", "--rm", noTLS, busybox, "true")
	if strings.Contains(r.stderr, "Copying") {
		t.Errorf("%s\nwant no pull for an image in local storage (missing is the default)", r)
	}
	// --pull always fetches the manifest again; present layers are skipped.
	r = e.lodger(t, "run", "--rm", noTLS, "--pull", "always", busybox, "true")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "skipped: already exists") {
		t.Errorf("%s\nwant --pull always to pull again and reuse the layer", r)
	}

	// --platform picks from a multi-platform image; a plain run afterwards
	// wants this machine's platform and pulls it.
	r = e.lodger(t, "pull", "-q", noTLS, "--platform", "linux/arm64", multi)
	wantCode(t, r, 0)
	arm := strings.TrimSpace(r.stdout)
	if r := e.lodger(t, "inspect", "-f", "{{.Architecture}}", arm); strings.TrimSpace(r.stdout) != "arm64" {
		t.Errorf("%s\nwant the arm64 image", r)
	}
	wantStdout(t, e.lodger(t, "run", "--rm", "-q", noTLS, multi, "cat", "/arch"), "amd64\n")

	for _, bad := range [][]string{{"--pull", "sometimes"}, {"--platform", "linux"}, {"--platform", "a/b/c/d"}} {
		args := append(append([]string{"run", "--rm"}, bad...), busybox, "true")
		wantError(t, e.lodger(t, args...), 125, bad[1])
	}
}
