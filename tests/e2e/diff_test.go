//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestDiff: lodger diff prints Docker's A/C/D lines for what a container
// did to its image's files, and nothing for the files lodger mounts over
// (issue 13).
func TestDiff(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "run", "-q", noTLS, "--name", "d", "-v", "/data", ref("busybox:latest"),
		"sh", "-c", "echo new > /new && echo x >> /etc/passwd && rm /bin/ls && mkdir -p /tmp/dir && echo f > /tmp/dir/f")
	wantCode(t, r, 0)
	r = e.lodger(t, "diff", "d")
	wantCode(t, r, 0)
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{"C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "A /new", "C /tmp", "A /tmp/dir", "A /tmp/dir/f"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s\nwant exactly:\n%s", r, strings.Join(want, "\n"))
	}
	// An untouched container has no changes.
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "clean", ref("busybox:latest")), 0)
	wantStdout(t, e.lodger(t, "diff", "clean"), "")
	r = e.lodger(t, "diff", "nosuch")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "no such container") {
		t.Errorf("%s\nwant the missing container named", r)
	}
}
