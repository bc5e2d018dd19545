//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestExistsAndRmAll: podman's container exists and image exists (exit 0
// or 1, nothing printed), rm -a, rm -i (issue 13).
func TestExistsAndRmAll(t *testing.T) {
	// Names that are no hex digits: a name like "b" would also match an
	// ID starting with b, as Docker's lookups do.
	e := isolatedEnv(t)
	r := e.lodger(t, "create", "-q", noTLS, "--name", "ex-one", ref("busybox:latest"))
	wantCode(t, r, 0)
	id := strings.TrimSpace(r.stdout)
	wantStdout(t, e.lodger(t, "container", "exists", "ex-one"), "")
	wantStdout(t, e.lodger(t, "container", "exists", id[:12]), "")
	for _, args := range [][]string{{"container", "exists", "nosuch"}, {"image", "exists", "nosuch:latest"}} {
		r := e.lodger(t, args...)
		wantCode(t, r, 1)
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("%s\nwant nothing printed", r)
		}
	}
	wantStdout(t, e.lodger(t, "image", "exists", ref("busybox:latest")), "")

	// rm -i: a missing container is not an error, and not echoed.
	wantStdout(t, e.lodger(t, "rm", "-i", "nosuch", "ex-one"), "ex-one\n")
	r = e.lodger(t, "rm", "nosuch")
	wantCode(t, r, 1)

	// rm -a: every container; a running one only with -f.
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "ex-created", ref("busybox:latest")), 0)
	r = e.lodger(t, "run", "-d", "-q", noTLS, "--name", "ex-running", ref("busybox:latest"), "sleep", "1000")
	wantCode(t, r, 0)
	cid := strings.TrimSpace(r.stdout)
	r = e.lodger(t, "rm", "-a")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "running") {
		t.Errorf("%s\nwant rm -a to refuse the running container", r)
	}
	wantCode(t, e.lodger(t, "container", "exists", "ex-running"), 0)
	wantCode(t, e.lodger(t, "container", "exists", "ex-created"), 1)
	// stop --timeout, Docker's spelling of podman's --time: sleep as
	// pid 1 ignores TERM, so the KILL comes after 1 s, not 10.
	wantStdout(t, e.lodger(t, "stop", "--timeout", "1", "ex-running"), "ex-running\n")
	// The kill events' times, not the command's, which a loaded machine
	// stretches.
	if gap := stopGaps(t, e, "ex-running"); len(gap) != 1 || gap[0] >= 9*time.Second {
		t.Errorf("stop --timeout 1 waited %v between TERM and KILL, want about 1 s, not 10", gap)
	}
	wantStdout(t, e.lodger(t, "rm", "-af"), cid+"\n")
	wantStdout(t, e.lodger(t, "ps", "-aq"), "")
	r = e.lodger(t, "rm", "-a", "x")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "--all") {
		t.Errorf("%s\nwant --all with names refused", r)
	}
}
