//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBuildProgress checks build's output as BuildKit prints it: plain
// lines on a pipe (auto or --progress plain), CACHED steps on a rebuild,
// the error's shape, -q, and the live view on a terminal.
func TestBuildProgress(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + busybox + ` AS builder
RUN echo one && echo two
COPY a.txt /a.txt
ENV X=1

FROM builder
WORKDIR /w
RUN cat /a.txt
`,
		"a.txt": "from a\n",
	})
	iid := filepath.Join(t.TempDir(), "iid")
	r := e.lodger(t, "build", "--iidfile", iid, "-t", "progress:v1", dir)
	wantCode(t, r, 0)
	if r.stdout != "" {
		t.Errorf("%s\nwant nothing on stdout: the progress goes to stderr", r)
	}
	id, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	vs := vertices(t, r.stderr)
	var names []string
	for _, v := range vs {
		names = append(names, v.name)
	}
	full := ref("busybox:latest")
	want := []string{
		"[internal] load build definition from Dockerfile",
		"[internal] load .dockerignore",
		"[builder 1/3] FROM " + full + "@sha256:",
		"[builder 2/3] RUN echo one && echo two",
		"[builder 3/3] COPY a.txt /a.txt",
		"[stage-1 1/2] WORKDIR /w",
		"[stage-1 2/2] RUN cat /a.txt",
		"exporting to image",
	}
	if len(names) != len(want) {
		t.Fatalf("%s\nvertices %q, want %q", r, names, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(names[i], w) {
			t.Errorf("vertex #%d is %q, want %q", i+1, names[i], w)
		}
	}
	timed := regexp.MustCompile(`^\d+\.\d{3} `)
	done := regexp.MustCompile(`^DONE \d+\.\ds$`)
	for _, v := range vs {
		if !done.MatchString(v.end) && v.end != "CACHED" {
			t.Errorf("%s\nvertex #%d %q ended %q, want DONE N.Ns or CACHED", r, v.index, v.name, v.end)
		}
	}
	if l := vs[0].lines; len(l) != 1 || !regexp.MustCompile(`^transferring dockerfile: \d+B done$`).MatchString(l[0]) {
		t.Errorf("load build definition: lines %q", l)
	}
	// The RUN's output, line by line, each with its time.
	run := vs[3]
	if len(run.lines) != 2 || !timed.MatchString(run.lines[0]) || !strings.HasSuffix(run.lines[0], " one") || !strings.HasSuffix(run.lines[1], " two") {
		t.Errorf("%s\nthe RUN's lines are %q, want \"0.123 one\", \"0.123 two\"", r, run.lines)
	}
	if l := vs[6].lines; len(l) != 1 || !timed.MatchString(l[0]) || !strings.HasSuffix(l[0], " from a") {
		t.Errorf("the second stage's RUN printed %q", l)
	}
	exp := vs[len(vs)-1].lines
	wantExp := []string{"exporting layers done", "writing image " + strings.TrimSpace(string(id)) + " done", "naming to docker.io/library/progress:v1 done"}
	if strings.Join(exp, "\n") != strings.Join(wantExp, "\n") {
		t.Errorf("exporting to image: %q, want %q", exp, wantExp)
	}

	// The rebuild: every step CACHED, no RUN output. --progress plain
	// is what auto chose above, with stderr not a terminal.
	r = e.lodger(t, "build", "--progress", "plain", "-t", "progress:v1", dir)
	wantCode(t, r, 0)
	steps := buildSteps(t, r.stderr)
	if len(steps) != 5 {
		t.Fatalf("%s\nwant 5 steps", r)
	}
	for _, v := range steps {
		if v.end != "CACHED" || len(v.lines) > 0 {
			t.Errorf("%s\nrebuild: %q ended %q with lines %q, want CACHED alone", r, v.name, v.end, v.lines)
		}
	}

	// -q and --progress quiet: the ID alone.
	for _, q := range []string{"-q", "--progress=quiet"} {
		r = e.lodger(t, "build", q, dir)
		wantCode(t, r, 0)
		if r.stdout != string(id)+"\n" || r.stderr != "" {
			t.Errorf("%s\nwant only the image ID %s", r, id)
		}
	}

	// DOCKER_BUILDKIT=0: the classic builder's lines on stdout.
	r = call{env: e, extra: []string{"DOCKER_BUILDKIT=0"}}.run(t, "build", dir)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "Step 1/7 : FROM "+busybox+" AS builder\n") || !strings.Contains(r.stdout, " ---> Using cache\n") ||
		!strings.Contains(r.stdout, "Successfully built "+strings.TrimPrefix(string(id), "sha256:")[:12]+"\n") {
		t.Errorf("%s\nwant the classic builder's lines", r)
	}

	// A failing RUN: its lines, ERROR, the summary with the Dockerfile's
	// lines and BuildKit's message; nothing tagged.
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN echo before && exit 3\nRUN echo never\n"})
	r = e.lodger(t, "build", "-t", "progress:bad", bad)
	wantBuildError(t, r, `lodger: failed to solve: process "/bin/sh -c echo before && exit 3" did not complete successfully: exit code: 3`)
	steps = buildSteps(t, r.stderr)
	if len(steps) != 2 {
		t.Fatalf("%s\nwant FROM and the failed RUN, nothing after", r)
	}
	if f := steps[1]; f.name != "[2/3] RUN echo before && exit 3" || f.end != `ERROR: process "/bin/sh -c echo before && exit 3" did not complete successfully: exit code: 3` ||
		len(f.lines) != 1 || !strings.HasSuffix(f.lines[0], " before") {
		t.Errorf("%s\nthe failed step: %+v", r, f)
	}
	summary := "------\n > [2/3] RUN echo before && exit 3:\n"
	excerpt := "------\nDockerfile:2\n--------------------\n   1 |     FROM " + busybox + "\n   2 | >>> RUN echo before && exit 3\n   3 |     RUN echo never\n"
	if !strings.Contains(r.stderr, summary) || !strings.Contains(r.stderr, excerpt) {
		t.Errorf("%s\nwant the summary %q and the excerpt %q", r, summary, excerpt)
	}
	if ex := e.lodger(t, "image", "exists", "progress:bad"); ex.code == 0 {
		t.Error("a failed build tagged its image")
	}

	// --progress tty needs a terminal.
	wantBuildError(t, e.lodger(t, "build", "--progress", "tty", dir), "not a terminal")

	// On a terminal, auto draws the live view: a header with the time
	// and the count of steps, a line per step, redrawn in place (every
	// 100 ms: the step's 3 s leave a loaded machine time to draw its log).
	master, slave, err := openPTY()
	if err != nil {
		t.Fatalf("allocate a pty: %v", err)
	}
	defer master.Close()
	slow := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN echo tick; sleep 3; echo tock\n"})
	cmd := e.command(context.Background(), "build", "--no-cache", "-t", "progress:tty", slow)
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	got := readPTY(master)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("build on a terminal: %v\n%s", err, got)
	}
	for _, w := range []string{"[+] Building ", "(5/5) FINISHED", " => [2/2] RUN echo tick; sleep 3; echo tock", "tick", "\x1b["} {
		if !strings.Contains(got, w) {
			t.Errorf("terminal view %q\nwant %q in it", got, w)
		}
	}
	// The step's log line under it, after the seconds since the step
	// began (0.xxx, or more when a loaded machine was slow to run echo).
	if !regexp.MustCompile(` => => # \d\.\d{3} tick`).MatchString(got) {
		t.Errorf("terminal view %q\nwant the running step's log line, timed, under it", got)
	}
	if strings.Contains(got, "#1 ") {
		t.Errorf("terminal view %q\nhas plain lines", got)
	}
	noBuildLeftovers(t, e)
}
