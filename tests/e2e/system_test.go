//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Image layers belong to subordinate ids, so a user cannot delete lodger's
// storage with rm; unshare and system reset can.
func TestUnshareAndSystemReset(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "kept", busybox, "true"), 0)
	wantStdout(t, e.lodger(t, "unshare", "id", "-u"), "0\n")
	graph := e.info(t).Storage.GraphRoot
	r := e.lodger(t, "unshare", "sh", "-c", "test -w "+graph+" && echo writable")
	wantStdout(t, r, "writable\n")

	// Declining the question removes nothing, as Docker's prunes do.
	r = call{env: e, stdin: strings.NewReader("n\n")}.run(t, "system", "reset")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "Are you sure") {
		t.Errorf("%s\nwant the question on stderr", r)
	}
	if r := e.lodger(t, "ps", "-a", "-q"); r.stdout == "" {
		t.Errorf("%s\nwant the container kept after the question was declined", r)
	}

	wantCode(t, e.lodger(t, "system", "reset", "-f"), 0)
	if _, err := os.Stat(filepath.Join(graph, "overlay-images")); err == nil {
		t.Errorf("%s still holds images after system reset", graph)
	}
	if r := e.lodger(t, "images", "-q"); r.stdout != "" {
		t.Errorf("%s\nwant no image after system reset", r)
	}
	if r := e.lodger(t, "ps", "-a", "-q"); r.stdout != "" {
		t.Errorf("%s\nwant no container after system reset", r)
	}
}
