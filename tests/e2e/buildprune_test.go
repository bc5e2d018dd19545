//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildCachePrune: the cache mounts of RUN --mount=type=cache are
// system df's Build Cache line; builder prune and system prune reclaim
// them (never one a build is using), and builder prune removes the
// images of build steps no named image is made of (-a: all of them, so
// the next build starts afresh).
func TestBuildCachePrune(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
ARG N=1
RUN --mount=type=cache,target=/c,id=big sh -c 'head -c 1048576 /dev/zero > /c/big-$N; echo $N > /n'
CMD ["cat", "/n"]
`})
	wantCode(t, e.lodger(t, "build", "-q", "-t", "pruned:kept", dir), 0)
	bc := e.df(t)["Build Cache"]
	if bc.Total != 1 || bc.Active != 0 || bc.Size < 1<<20 || bc.Reclaimable != bc.Size {
		t.Errorf("system df Build Cache after a build with a cache mount: %+v, want one of 1 MiB or more, reclaimable", bc)
	}
	// An untagged build of other steps: its step images are dangling.
	before := len(e.images(t))
	r := e.lodger(t, "build", "-q", "--build-arg", "N=2", dir)
	wantCode(t, r, 0)
	untagged := strings.TrimSpace(r.stdout)
	if len(e.images(t)) != before+1 {
		t.Fatalf("images: %d, want %d after an untagged build", len(e.images(t)), before+1)
	}
	if bc := e.df(t)["Build Cache"]; bc.Size < 2<<20 {
		t.Errorf("Build Cache %+v, want the second build's file in it too", bc)
	}

	r = e.lodger(t, "builder", "prune", "-f")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "Deleted build cache objects:\n") || !strings.Contains(r.stdout, "sha256:"+strings.TrimPrefix(untagged, "sha256:")) ||
		!strings.Contains(r.stdout, "Total reclaimed space: ") {
		t.Errorf("%s\nwant the cache mount and the untagged build's images deleted", r)
	}
	if bc := e.df(t)["Build Cache"]; bc.Total != 0 || bc.Size != 0 {
		t.Errorf("Build Cache after builder prune: %+v, want nothing", bc)
	}
	if ex := e.lodger(t, "image", "exists", untagged); ex.code == 0 {
		t.Errorf("the untagged build's image %s survived builder prune", untagged)
	}
	// The named image and its steps stay: a rebuild is all cache.
	wantStdout(t, e.runRm(t, "pruned:kept"), "1\n")
	r = e.lodger(t, "build", "-t", "pruned:kept", dir)
	wantCode(t, r, 0)
	if s := buildSteps(t, r.stderr); len(s) != 2 || !cached(s[1]) {
		t.Errorf("%s\nwant the RUN cached after builder prune (its image is a named one's)", r)
	}
	// -a: every step image no name holds goes; the rebuild runs again.
	wantCode(t, e.lodger(t, "builder", "prune", "-a", "-f"), 0)
	wantStdout(t, e.runRm(t, "pruned:kept"), "1\n")
	r = e.lodger(t, "build", "-t", "pruned:other", "--label", "x=y", dir)
	wantCode(t, r, 0)
	if s := buildSteps(t, r.stderr); len(s) != 2 || cached(s[1]) {
		t.Errorf("%s\nwant the RUN run again after builder prune -a", r)
	}
	wantBuildError(t, e.lodger(t, "builder", "prune", "-f", "--filter", "label=x"), "--filter", "until=")

	// A cache mount in use is neither pruned nor counted reclaimable. The
	// RUN holds it until the test has looked (gate/open in the context,
	// which the RUN sees through a bind), not for a time a loaded machine
	// could spend before the test looks.
	busy := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
RUN --mount=type=cache,target=/c,id=busy --mount=type=bind,source=gate,target=/gate sh -c 'echo started; echo x > /c/f; until [ -e /gate/open ]; do sleep 0.1; done'
`, "gate/.keep": ""})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "build", "--progress", "plain", busy)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.HasSuffix(sc.Text(), " started") {
	}
	if bc := e.df(t)["Build Cache"]; bc.Active != 1 {
		t.Errorf("Build Cache during a build: %+v, want the busy mount active", bc)
	}
	wantCode(t, e.lodger(t, "builder", "prune", "-f"), 0)
	if err := os.WriteFile(filepath.Join(busy, "gate", "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the build whose cache mount was in use: %v", err)
	}
	if bc := e.df(t)["Build Cache"]; bc.Total != 1 {
		t.Errorf("Build Cache after pruning during the build: %+v, want the busy mount kept", bc)
	}
	// until: a mount used just now is kept.
	wantCode(t, e.lodger(t, "builder", "prune", "-f", "--filter", "until=1h"), 0)
	if bc := e.df(t)["Build Cache"]; bc.Total != 1 {
		t.Errorf("Build Cache after prune --filter until=1h: %+v, want the fresh mount kept", bc)
	}
	// system prune reclaims it too.
	r = e.lodger(t, "system", "prune", "-f")
	wantCode(t, r, 0)
	if bc := e.df(t)["Build Cache"]; bc.Total != 0 {
		t.Errorf("%s\nBuild Cache after system prune: %+v, want nothing", r, bc)
	}
	noBuildLeftovers(t, e)
}
