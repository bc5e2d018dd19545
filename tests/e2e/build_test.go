//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The builds of issue 16: lodger build as the test user, FROM the test
// registry's busybox.

// buildContext writes files (name -> content) into a fresh directory.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// vertex is one step of BuildKit's plain output: its header "#N NAME",
// the lines under it and how it ended (CACHED, DONE 0.1s, ERROR: …).
type vertex struct {
	index int
	name  string
	lines []string
	end   string
}

var vertexLine = regexp.MustCompile(`^#(\d+) (.*)$`)

// vertices reads BuildKit's plain output (lodger build's standard error)
// into its vertices, in order. A line of no vertex fails t unless it
// is blank, a warning or lodger's own error line; a vertex whose number
// is not the next one fails it too.
func vertices(t *testing.T, out string) []vertex {
	t.Helper()
	var vs []vertex
	byIndex := map[int]int{}
	for _, l := range strings.Split(out, "\n") {
		m := vertexLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		i, seen := byIndex[n]
		if !seen {
			if n != len(vs)+1 {
				t.Errorf("vertex #%d follows #%d:\n%s", n, len(vs), out)
			}
			byIndex[n] = len(vs)
			vs = append(vs, vertex{index: n, name: m[2]})
			continue
		}
		switch rest := m[2]; {
		case rest == "CACHED" || strings.HasPrefix(rest, "DONE ") || strings.HasPrefix(rest, "ERROR: ") || rest == "CANCELED":
			vs[i].end = rest
		default:
			vs[i].lines = append(vs[i].lines, rest)
		}
	}
	return vs
}

var stepName = regexp.MustCompile(`^\[([a-z0-9_.-]+ )?\s*\d+/\d+\] `)

// buildSteps is the vertices of the Dockerfile's steps (named "[stage
// i/n] STEP"), without BuildKit's [internal] and exporting ones.
func buildSteps(t *testing.T, out string) []vertex {
	t.Helper()
	var steps []vertex
	for _, v := range vertices(t, out) {
		if stepName.MatchString(v.name) {
			steps = append(steps, v)
		}
	}
	return steps
}

func cached(v vertex) bool { return v.end == "CACHED" }

// wantBuildError fails t unless the build r failed with exit 1 and
// lodger's error, the last line of its standard error (under the
// progress), mentions words.
func wantBuildError(t *testing.T, r result, words ...string) {
	t.Helper()
	wantCode(t, r, 1)
	ls := lines(strings.TrimRight(r.stderr, "\n"))
	if len(ls) == 0 || !strings.HasPrefix(ls[len(ls)-1], "lodger: ") {
		t.Errorf("%s\nwant the last line of stderr to start with %q", r, "lodger: ")
	}
	for _, w := range words {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s\nwant stderr to mention %q", r, w)
		}
	}
}

// noBuildLeftovers fails t when a build left a container (a RUN's or a
// COPY's work container) or a mount in e.
func noBuildLeftovers(t *testing.T, e *env) {
	t.Helper()
	r := e.lodger(t, "ps", "-a", "-q")
	wantCode(t, r, 0)
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("containers left behind:\n%s", e.lodger(t, "ps", "-a"))
	}
	m, err := e.inSession("cat", "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m), e.data) {
		t.Errorf("mounts of the graph root left behind:\n%s", m)
	}
}

func inspectFormat(t *testing.T, e *env, image, format string) string {
	t.Helper()
	r := e.lodger(t, "image", "inspect", "--format", format, image)
	wantCode(t, r, 0)
	return strings.TrimSpace(r.stdout)
}

const multiStage = `ARG BASE=busybox
FROM $BASE AS builder
ARG GREETING=hello
RUN echo "$GREETING from the builder" > /greeting && mkdir -p /out && cp /greeting /out/
COPY app.txt /out/
RUN grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status > /out/status

FROM scratch AS unused
COPY nothing-here /

FROM ${BASE}
ENV APP_HOME=/app MODE=prod
WORKDIR $APP_HOME
COPY --from=builder /out/ ./
COPY --chown=1000:1000 --chmod=0640 conf/ conf/
RUN echo "$MODE" > mode && chown 1000:1000 /app
USER 1000:1000
EXPOSE 8080 9000/udp
LABEL org.example.test=yes
STOPSIGNAL SIGQUIT
VOLUME /data
ONBUILD RUN echo triggered
HEALTHCHECK --interval=5s CMD cat greeting
ENTRYPOINT ["/bin/sh", "-c", "exec \"$@\"", "--"]
CMD ["cat", "greeting"]
`

// TestBuildMultiStage builds a two-stage Dockerfile and checks the
// image's configuration as docker image inspect shows it, its history,
// and what running it gives.
func TestBuildMultiStage(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{
		"Dockerfile":  multiStage,
		"app.txt":     "the app\n",
		"conf/c.conf": "key=value\n",
	})
	// The classic builder's lines, as DOCKER_BUILDKIT=0 asks.
	r := call{env: e, extra: []string{"DOCKER_BUILDKIT=0"}}.run(t, "build", "--build-arg", "BASE="+busybox, "--build-arg", "GREETING=hi",
		"-t", "built:v1", "-t", "built:alias", "--label", "extra=1", dir)
	wantCode(t, r, 0)
	for _, want := range []string{
		"Step 1/", " : FROM $BASE AS builder\n",
		" ---> Running in ", " ---> Removed intermediate container ",
		"Successfully built ", "Successfully tagged built:v1\n", "Successfully tagged built:alias\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("%s\nwant the output to contain %q", r, want)
		}
	}
	// The scratch stage nothing needs is not built: its COPY of a
	// missing file would fail.
	if strings.Contains(r.stdout, "nothing-here") {
		t.Errorf("%s\nthe unused stage was built", r)
	}
	// 1 FROM + 4 steps, 1 FROM + 15 steps (the --label step included).
	if !strings.Contains(r.stdout, "Step 21/21 : LABEL \"extra\"=\"1\"\n") {
		t.Errorf("%s\nwant 21 steps, --label's LABEL last", r)
	}

	for format, want := range map[string]string{
		"{{.Config.WorkingDir}}":        "/app",
		"{{.Config.User}}":              "1000:1000",
		"{{json .Config.Entrypoint}}":   `["/bin/sh","-c","exec \"$@\"","--"]`,
		"{{json .Config.Cmd}}":          `["cat","greeting"]`,
		"{{json .Config.Labels}}":       `{"extra":"1","org.example.test":"yes"}`,
		"{{json .Config.ExposedPorts}}": `{"8080/tcp":{},"9000/udp":{}}`,
		"{{json .Config.Volumes}}":      `{"/data":{}}`,
		"{{.Config.StopSignal}}":        "SIGQUIT",
		"{{len .RootFS.Layers}}":        "",
		"{{.Os}}/{{.Architecture}}":     "linux/" + runtime.GOARCH,
		"{{len .RepoTags}}":             "2",
		"{{json .Config.OnBuild}}":      `["RUN echo triggered"]`,
		"{{.Config.ArgsEscaped}}":       "true",
		"{{json .Config.Healthcheck}}":  `{"Test":["CMD-SHELL","cat greeting"],"Interval":5000000000}`,
	} {
		if format == "{{len .RootFS.Layers}}" {
			// busybox's own layers, then WORKDIR /app, COPY --from,
			// COPY conf/ and RUN: four more.
			n, err := strconv.Atoi(inspectFormat(t, e, busybox, format))
			if err != nil {
				t.Fatal(err)
			}
			want = strconv.Itoa(n + 4)
		}
		if got := inspectFormat(t, e, "built:v1", format); got != want {
			t.Errorf("inspect %s: got %q, want %q", format, got, want)
		}
	}
	// ENV adds to the image's own environment, in order.
	env := inspectFormat(t, e, "built:v1", "{{json .Config.Env}}")
	base := inspectFormat(t, e, busybox, "{{json .Config.Env}}")
	if want := strings.TrimSuffix(base, "]") + `,"APP_HOME=/app","MODE=prod"]`; env != want {
		t.Errorf("Env %s, want %s", env, want)
	}
	tags := " " + inspectFormat(t, e, "built:v1", "{{range .RepoTags}}{{.}} {{end}}") + " "
	if !strings.Contains(tags, " built:v1 ") || !strings.Contains(tags, " built:alias ") {
		t.Errorf("RepoTags %q, want built:v1 and built:alias", tags)
	}
	hist := e.lodger(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "built:v1")
	wantCode(t, hist, 0)
	for _, want := range []string{
		"ENV APP_HOME=/app MODE=prod|buildkit.dockerfile.v0\n",
		"WORKDIR /app|buildkit.dockerfile.v0\n",
		"COPY /out/ ./ # buildkit|buildkit.dockerfile.v0\n",
		"COPY --chown=1000:1000 --chmod=0640 conf/ conf/ # buildkit|buildkit.dockerfile.v0\n",
		"RUN /bin/sh -c echo \"$MODE\" > mode && chown 1000:1000 /app # buildkit|buildkit.dockerfile.v0\n",
		"USER 1000:1000|buildkit.dockerfile.v0\n",
		"EXPOSE [8080/tcp 9000/udp]|buildkit.dockerfile.v0\n",
		`CMD ["cat" "greeting"]|buildkit.dockerfile.v0` + "\n",
	} {
		if !strings.Contains(hist.stdout, want) {
			t.Errorf("%s\nwant a history entry %q", hist, want)
		}
	}

	wantStdout(t, e.runRm(t, "built:v1"), "hi from the builder\n")
	wantStdout(t, e.runRm(t, "built:v1", "cat", "app.txt", "mode"), "the app\nprod\n")
	// A directory COPY --chown makes is the user's too.
	wantStdout(t, e.runRm(t, "built:v1", "stat", "-c", "%u:%g %a %n", "conf/c.conf", "conf", "/app"), "1000:1000 640 conf/c.conf\n1000:1000 755 conf\n1000:1000 755 /app\n")
	wantStdout(t, e.runRm(t, "built:v1", "id", "-u"), "1000\n")
	wantStdout(t, e.runRm(t, "built:v1", "sh", "-c", "echo $APP_HOME $PWD"), "/app /app\n")

	// The RUN steps ran as hardened as run's containers: the same seccomp
	// mode, capabilities and no_new_privs.
	runStatus := e.runRm(t, busybox, "grep", "-E", "^(Seccomp|CapEff|NoNewPrivs):", "/proc/self/status")
	wantCode(t, runStatus, 0)
	wantStdout(t, e.runRm(t, "built:v1", "cat", "status"), runStatus.stdout)
	if !strings.Contains(runStatus.stdout, "Seccomp:\t2") {
		t.Errorf("%s\nwant a seccomp filter in run's containers", runStatus)
	}

	// An image FROM the built one runs its ONBUILD trigger.
	child := buildContext(t, map[string]string{"Dockerfile": "FROM built:v1\nUSER 0\nRUN test -d /app\n"})
	r = e.lodger(t, "build", "-t", "child", child)
	wantCode(t, r, 0)
	// BuildKit's numbering counts the trigger among the stage's steps.
	steps := buildSteps(t, r.stderr)
	if len(steps) != 3 || !strings.HasPrefix(steps[1].name, "[2/3] ONBUILD RUN echo triggered") ||
		len(steps[1].lines) != 1 || !strings.HasSuffix(steps[1].lines[0], " triggered") {
		t.Errorf("%s\nwant the ONBUILD trigger run as step 2/3", r)
	}
	if got := inspectFormat(t, e, "child", "{{json .Config.OnBuild}}"); got != "null" {
		t.Errorf("the child's OnBuild is %s, want none: triggers are not inherited", got)
	}
	noBuildLeftovers(t, e)
}

// TestBuildCache checks Docker's cache rules: a second build reuses every
// step; a changed file invalidates from its COPY on; a touched one does
// not; a changed build arg invalidates the RUN that sees it; --no-cache
// reuses nothing.
func TestBuildCache(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + busybox + `
ARG V=1
RUN echo "v=$V" > /v
COPY a.txt /a.txt
RUN cat /a.txt /v > /both
COPY b.txt /b.txt
CMD ["cat", "/both", "/b.txt"]
`,
		"a.txt": "a1\n",
		"b.txt": "b1\n",
	})
	iid := filepath.Join(t.TempDir(), "iid")
	build := func(args ...string) (result, string) {
		t.Helper()
		r := e.lodger(t, append(append([]string{"build", "--iidfile", iid}, args...), dir)...)
		wantCode(t, r, 0)
		b, err := os.ReadFile(iid)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).Match(b) {
			t.Fatalf("--iidfile holds %q, want sha256:ID", b)
		}
		return r, string(b)
	}
	// cachedSteps says which of the 4 steps after FROM that make a
	// layer (RUN, COPY, RUN, COPY) came from the cache.
	cachedSteps := func(r result) string {
		t.Helper()
		steps := buildSteps(t, r.stderr)
		if len(steps) != 5 {
			t.Fatalf("%s\nwant 5 steps", r)
		}
		s := ""
		for _, st := range steps[1:] {
			if cached(st) {
				s += "C"
			} else {
				s += "-"
			}
		}
		return s
	}
	r1, id1 := build("-t", "cached")
	if got := cachedSteps(r1); got != "----" {
		t.Errorf("%s\nfirst build: cached steps %s, want none", r1, got)
	}
	r2, id2 := build("-t", "cached")
	if got := cachedSteps(r2); got != "CCCC" {
		t.Errorf("%s\nsecond build: cached steps %s, want all", r2, got)
	}
	if id1 != id2 {
		t.Errorf("the fully cached build made %s, the first %s", id2, id1)
	}
	for _, v := range buildSteps(t, r2.stderr) {
		if len(v.lines) > 0 {
			t.Errorf("%s\na cached step printed %q", r2, v.lines)
		}
	}
	// -q prints the ID only.
	q := e.lodger(t, "build", "-q", dir)
	wantStdout(t, q, id1+"\n")

	// A touched file keeps the cache: content, not times.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	r3, id3 := build()
	if got := cachedSteps(r3); got != "CCCC" || id3 != id1 {
		t.Errorf("%s\nafter touching a.txt: cached steps %s, want all", r3, got)
	}
	// A changed file invalidates its COPY and every step after it.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r4, _ := build("-t", "cached")
	if got := cachedSteps(r4); got != "C---" {
		t.Errorf("%s\nafter changing a.txt: cached steps %s, want the first RUN only", r4, got)
	}
	wantStdout(t, e.runRm(t, "cached"), "a2\nv=1\nb1\n")
	// A changed build arg invalidates the RUN that sees it.
	r5, _ := build("-t", "cached", "--build-arg", "V=2")
	if got := cachedSteps(r5); got != "----" {
		t.Errorf("%s\nwith V=2: cached steps %s, want none after ARG", r5, got)
	}
	wantStdout(t, e.runRm(t, "cached"), "a2\nv=2\nb1\n")
	r6, _ := build("--no-cache")
	if got := cachedSteps(r6); got != "----" {
		t.Errorf("%s\n--no-cache: cached steps %s, want none", r6, got)
	}
	noBuildLeftovers(t, e)
}

// TestBuildFailures: a failing RUN, sources outside the context (written
// as the attacker: a Dockerfile or a symlink reaching for the user's
// files), bad Dockerfiles. Each exits 1 with Docker's message and leaves
// no tag, container or mount.
func TestBuildFailures(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte("SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dockerfile string
		setup            func(dir string)
		words            []string
	}{
		{"run fails", "FROM " + busybox + "\nRUN echo before\nRUN exit 3\n", nil,
			[]string{`failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`}},
		{"exec form fails", "FROM " + busybox + "\nRUN [\"false\"]\n", nil,
			[]string{`failed to solve: process "false" did not complete successfully: exit code: 1`}},
		{"dotdot", "FROM " + busybox + "\nCOPY ../" + filepath.Base(secretDir) + "/secret /s\n", nil,
			[]string{"COPY failed", "forbidden path outside the build context"}},
		{"symlink out", "FROM " + busybox + "\nCOPY link /s\nRUN cat /s\n",
			func(dir string) {
				if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"COPY failed", "link", "file not found in build context"}},
		{"symlinked dir out", "FROM " + busybox + "\nCOPY d/secret /s\n",
			func(dir string) {
				if err := os.Symlink(secretDir, filepath.Join(dir, "d")); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"COPY failed", "d/secret", "file not found in build context"}},
		{"ignored", "FROM " + busybox + "\nCOPY hidden.txt /h\n",
			func(dir string) {
				for name, c := range map[string]string{".dockerignore": "hidden.txt\n", "hidden.txt": "x"} {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			},
			[]string{"COPY failed", "hidden.txt", "excluded by .dockerignore"}},
		{"unknown instruction", "FROM " + busybox + "\nRUN true\nFOO bar\n", nil,
			[]string{"Dockerfile", "line 3", "unknown instruction: FOO"}},
		{"no FROM", "RUN true\n", nil, []string{"Dockerfile", "no build stage"}},
		{"bad target", "FROM " + busybox + " AS a\n", nil, []string{`target stage "nope" could not be found`}},
		{"missing source", "FROM " + busybox + "\nCOPY nope /\n", nil, []string{"COPY failed", "nope", "file not found"}},
		{"unreachable ADD", "FROM " + busybox + "\nADD http://127.0.0.1:1/x /x\n", nil, []string{"ADD http://127.0.0.1:1/x", "connection refused"}},
		{"git ADD", "FROM " + busybox + "\nADD https://127.0.0.1:1/repo.git /x\n", nil, []string{"git sources are not supported yet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			if tc.setup != nil {
				tc.setup(dir)
			}
			args := []string{"build", "-t", "failed:x", dir}
			if tc.name == "bad target" {
				args = append([]string{"build", "--target", "nope"}, args[1:]...)
			}
			r := e.lodger(t, args...)
			wantBuildError(t, r, tc.words...)
			if strings.Contains(r.stdout+r.stderr, "SECRET") {
				t.Errorf("%s\nthe file outside the context was read", r)
			}
			if ex := e.lodger(t, "image", "exists", "failed:x"); ex.code == 0 {
				t.Errorf("a failed build tagged failed:x")
			}
			noBuildLeftovers(t, e)
		})
	}
	wantBuildError(t, call{env: e, stdin: strings.NewReader("")}.run(t, "build", "-f", "-", "-"), "only one of them can be read from stdin")
}

// TestBuildStdinAndHeredocs: the Dockerfile on stdin (-f -), a context
// tarball on stdin, a Dockerfile alone on stdin, and heredocs in RUN and
// COPY as BuildKit runs them.
func TestBuildStdinAndHeredocs(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{"data": "from stdin\n"})
	r := call{env: e, stdin: strings.NewReader("FROM " + busybox + "\nCOPY data /data\nCMD [\"cat\", \"/data\"]\n")}.run(t, "build", "-q", "-t", "stdin", "-f", "-", dir)
	wantCode(t, r, 0)
	wantStdout(t, e.runRm(t, "stdin"), "from stdin\n")

	// A gzipped tar of the context on stdin.
	tarDir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + busybox + "\nCOPY sub/f.txt /f.txt\nCMD [\"cat\", \"/f.txt\"]\n",
		"sub/f.txt":  "from the tarball\n",
	})
	tgz := filepath.Join(t.TempDir(), "ctx.tgz")
	if out, err := exec.Command("tar", "-C", tarDir, "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r = call{env: e, stdin: f}.run(t, "build", "-q", "-t", "fromtar", "-")
	wantCode(t, r, 0)
	wantStdout(t, e.runRm(t, "fromtar"), "from the tarball\n")

	// A Dockerfile alone on stdin: no context, so COPY finds nothing.
	r = call{env: e, stdin: strings.NewReader("FROM " + busybox + "\nRUN echo alone > /a\nCMD [\"cat\", \"/a\"]\n")}.run(t, "build", "-q", "-t", "alone", "-")
	wantCode(t, r, 0)
	wantStdout(t, e.runRm(t, "alone"), "alone\n")
	r = call{env: e, stdin: strings.NewReader("FROM " + busybox + "\nCOPY data /\n")}.run(t, "build", "-")
	wantBuildError(t, r, "COPY failed", "data", "file not found in build context")

	hd := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
ARG WHO=world
ENV GREETING=hello
RUN <<EOF
echo "$GREETING $WHO" > /one
echo line2 >> /one
EOF
RUN <<EOT
#!/bin/sh
echo "script $0" > /two
EOT
RUN cat <<A > /three && echo more >> /three
a-heredoc
A
COPY <<EOF /etc/conf.txt
expanded: $GREETING ${WHO}
EOF
COPY --chmod=0755 <<'EOF' /usr/local/bin/hi
#!/bin/sh
echo 'not expanded: $GREETING'
EOF
CMD cat /one /two /three /etc/conf.txt && hi && stat -c '%a %u' /etc/conf.txt
`})
	wantCode(t, e.lodger(t, "build", "-q", "-t", "heredocs", hd), 0)
	wantStdout(t, e.runRm(t, "heredocs"), "hello world\nline2\nscript /dev/pipes/EOT\na-heredoc\nmore\nexpanded: hello world\nnot expanded: $GREETING\n644 0\n")
	noBuildLeftovers(t, e)
}

// TestBuildInterrupt: Ctrl-C during a RUN ends the build with 130 and
// leaves no container, mount or tag.
func TestBuildInterrupt(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	// A RUN far longer than the call's timeout: a build that ends with 130
	// before the timeout kills it stopped the RUN, as a build that waited
	// for it never could (no threshold on how long a loaded machine takes).
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN echo started && sleep 600\n"})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "build", "-t", "interrupted", dir)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// BuildKit's plain line of the RUN's output: "#N 0.123 started".
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), " started") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the build did not stop after SIGINT within %s", callTimeout)
	}
	if cmd.ProcessState.ExitCode() != 130 {
		t.Errorf("build after SIGINT: %v, want exit 130", err)
	}
	if ex := e.lodger(t, "image", "exists", "interrupted"); ex.code == 0 {
		t.Error("an interrupted build tagged its image")
	}
	noBuildLeftovers(t, e)
}

// TestBuildRunMounts: RUN --mount=type=cache keeps its content from one
// build to the next and out of the image; type=bind shows the context as
// COPY sees it (without what .dockerignore excludes), read-only;
// type=tmpfs is fresh; RUN --network=none has only loopback; COPY
// --exclude leaves paths out; COPY --parents keeps the source's path
// (below a /./ pivot).
func TestBuildRunMounts(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := buildContext(t, map[string]string{
		".dockerignore":   "src/ignored.txt\n",
		"src/b.txt":       "bound\n",
		"src/ignored.txt": "ignored\n",
		"src/x.md":        "md\n",
		"Dockerfile": "FROM " + busybox + `
RUN --mount=type=cache,target=/cache,id=counter sh -c 'echo run >> /cache/log; wc -l < /cache/log > /count'
RUN --mount=type=bind,source=src,target=/src sh -c 'ls /src > /ls; cat /src/b.txt > /b; touch /src/new 2>/dev/null && echo writable > /rw || echo read-only > /rw'
RUN --mount=type=tmpfs,target=/scratch sh -c 'ls -A /scratch | wc -l > /tmpfs; echo x > /scratch/x'
RUN --network=none sh -c 'cat /proc/net/dev | grep -c : > /ifaces'
COPY --exclude=*.md src/ /copied/
COPY --parents src/b.txt src/./x.md /par/
CMD cat /count /ls /b /rw /tmpfs /ifaces && ls /copied && ls -A /cache /src /scratch 2>/dev/null | wc -l && find /par -type f | sort
`,
	})
	wantCode(t, e.lodger(t, "build", "-q", "-t", "mounts", dir), 0)
	want := "1\nb.txt\nx.md\nbound\nread-only\n0\n1\nb.txt\n0\n/par/src/b.txt\n/par/x.md\n"
	wantStdout(t, e.runRm(t, "mounts"), want)
	// Again without the cache: the cache mount still holds the first
	// build's line.
	wantCode(t, e.lodger(t, "build", "-q", "--no-cache", "-t", "mounts", dir), 0)
	wantStdout(t, e.runRm(t, "mounts", "cat", "/count"), "2\n")
	// With the cache: a changed bound file reruns the RUN that binds it.
	if err := os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.lodger(t, "build", "-t", "mounts", dir)
	wantCode(t, r, 0)
	steps := buildSteps(t, r.stderr)
	if len(steps) != 7 || !cached(steps[1]) || cached(steps[2]) {
		t.Errorf("%s\nwant the cache step reused and the bind step run again", r)
	}
	wantStdout(t, e.runRm(t, "mounts", "cat", "/b"), "changed\n")
	noBuildLeftovers(t, e)
}

// TestBuildConfigMatchesBuildah builds one Dockerfile with lodger and
// with buildah (Debian's, as the same user, Docker format) and compares
// the image configurations field by field. Only what buildah adds of its
// own (its version label, the container fields of Docker's old schema)
// and BuildKit's ArgsEscaped, which lodger writes as Docker's default
// builder does, are set aside. (A port range is where they part: buildah
// keeps EXPOSE 9000-9001 as one key, BuildKit and lodger list each port;
// TestBuildMultiStage checks that.)
func TestBuildConfigMatchesBuildah(t *testing.T) {
	e := isolatedEnv(t)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	dir := buildContext(t, map[string]string{
		"busybox": string(bb),
		"Dockerfile": `FROM scratch
COPY busybox /bin/busybox
ENV A=1 B="two words"
WORKDIR /app
USER 1000:1000
EXPOSE 8080 53/udp
LABEL a=b "c d"="e f"
VOLUME /data ["/logs"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD /bin/busybox true
ONBUILD RUN true
SHELL ["/bin/busybox", "sh", "-c"]
ENTRYPOINT ["/bin/busybox"]
CMD ["sh"]
`,
	})
	if err := os.Chmod(filepath.Join(dir, "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.lodger(t, "build", "-q", "-t", "cmp", dir), 0)
	var got map[string]any
	if err := json.Unmarshal([]byte(inspectFormat(t, e, "cmp", "{{json .Config}}")), &got); err != nil {
		t.Fatal(err)
	}

	buildah := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "buildah", args...)
		cmd.Env, cmd.Dir = e.vars, e.home
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}
	buildah("bud", "--format", "docker", "--layers", "-q", "-t", "cmp", dir)
	t.Cleanup(func() { buildah("rmi", "-a", "-f") })
	var img struct {
		Docker struct {
			Config map[string]any `json:"config"`
		}
	}
	if err := json.Unmarshal(buildah("inspect", "--type", "image", "cmp"), &img); err != nil {
		t.Fatal(err)
	}
	want := img.Docker.Config
	for _, k := range []string{"Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", "Image"} {
		delete(want, k)
	}
	if labels, ok := want["Labels"].(map[string]any); ok {
		delete(labels, "io.buildah.version")
	}
	if got["ArgsEscaped"] != true {
		t.Errorf("ArgsEscaped %v, want true as BuildKit writes it for CMD", got["ArgsEscaped"])
	}
	delete(got, "ArgsEscaped")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("image configuration, buildah's (-) against lodger's (+):\n%s", diff)
	}
	wantStdout(t, e.runRm(t, "cmp", "sh", "-c", "echo $B; pwd; id -u"), "two words\n/app\n1000\n")

	// --format oci, both: the same fields, Docker's own dropped by both.
	wantCode(t, e.lodger(t, "build", "-q", "--format", "oci", "-t", "cmp-oci", dir), 0)
	got = nil
	if err := json.Unmarshal([]byte(inspectFormat(t, e, "cmp-oci", "{{json .Config}}")), &got); err != nil {
		t.Fatal(err)
	}
	buildah("bud", "--format", "oci", "--layers", "-q", "-t", "cmp-oci", dir)
	var oci struct {
		OCIv1 struct {
			Config map[string]any `json:"config"`
		}
	}
	if err := json.Unmarshal(buildah("inspect", "--type", "image", "cmp-oci"), &oci); err != nil {
		t.Fatal(err)
	}
	want = oci.OCIv1.Config
	if labels, ok := want["Labels"].(map[string]any); ok {
		delete(labels, "io.buildah.version")
	}
	for _, k := range []string{"Healthcheck", "OnBuild", "Shell"} {
		if got[k] != nil || want[k] != nil {
			t.Errorf("--format oci: %s is lodger's %v, buildah's %v; want neither", k, got[k], want[k])
		}
	}
	delete(got, "ArgsEscaped")
	delete(want, "ArgsEscaped")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--format oci image configuration, buildah's (-) against lodger's (+):\n%s", diff)
	}

	// A multi-stage build FROM a registry image: what the base gives
	// (its Env, its Cmd until one is set) and COPY --from. (FROM the
	// busybox whose layer has a history entry: buildah 1.28 cannot build
	// on one without.)
	base := ref("busybox:history")
	e.pull(t, base, noTLS)
	multi := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + base + ` AS builder
RUN echo built > /artifact
FROM ` + base + `
ENV EXTRA=1
COPY --from=builder /artifact /opt/artifact
WORKDIR /opt
USER 1:1
EXPOSE 9000/udp
LABEL stage=final
STOPSIGNAL SIGTERM
`,
	})
	wantCode(t, e.lodger(t, "build", "-q", "-t", "cmp-multi", multi), 0)
	got = nil
	if err := json.Unmarshal([]byte(inspectFormat(t, e, "cmp-multi", "{{json .Config}}")), &got); err != nil {
		t.Fatal(err)
	}
	buildah("bud", "--format", "docker", "--layers", "--tls-verify=false", "-q", "-t", "cmp-multi", multi)
	img.Docker.Config = nil
	if err := json.Unmarshal(buildah("inspect", "--type", "image", "cmp-multi"), &img); err != nil {
		t.Fatal(err)
	}
	want = img.Docker.Config
	for _, k := range []string{"Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", "Image"} {
		delete(want, k)
	}
	if labels, ok := want["Labels"].(map[string]any); ok {
		delete(labels, "io.buildah.version")
	}
	delete(got, "ArgsEscaped")
	delete(want, "ArgsEscaped")
	// buildah writes an empty Entrypoint, OnBuild and Volumes where
	// BuildKit and lodger leave them out: the same to a runtime.
	for _, m := range []map[string]any{got, want} {
		for k, v := range m {
			switch v := v.(type) {
			case []any:
				if len(v) == 0 {
					delete(m, k)
				}
			case map[string]any:
				if len(v) == 0 {
					delete(m, k)
				}
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("multi-stage image configuration FROM %s, buildah's (-) against lodger's (+):\n%s", base, diff)
	}
	wantStdout(t, e.runRm(t, "cmp-multi", "sh", "-c", "cat /opt/artifact; echo $EXTRA $IMAGE_VAR; pwd"), "built\n1 from-image\n/opt\n")
}

// TestBuildAPI: POST /build on lodger system service's socket speaks the
// classic builder's protocol (what docker build sends with
// DOCKER_BUILDKIT=0): a tar context in, {"stream"} lines, the image ID in
// {"aux"}, a failed RUN as errorDetail with the command's code.
func TestBuildAPI(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	sock := filepath.Join(e.runtime, "build-api.sock")
	ctx, cancel := context.WithCancel(context.Background())
	svc := e.command(ctx, "system", "service", "--time", "0", sock)
	svc.Stderr = os.Stderr
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = svc.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 100 {
			t.Fatal("the service's socket did not appear")
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(query string, files map[string]string) []map[string]any {
		t.Helper()
		dir := buildContext(t, files)
		tarball := filepath.Join(t.TempDir(), "ctx.tar")
		if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		out, err := exec.Command("curl", "-sS", "--max-time", "60", "--unix-socket", sock, "-X", "POST",
			"-H", "Content-Type: application/x-tar", "--data-binary", "@"+tarball,
			"http://lodger/v1.41/build?"+query).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		if !strings.HasPrefix(string(out), "{") {
			t.Fatalf("POST /build?%s answered %q", query, out)
		}
		var msgs []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("a line that is no JSON message: %q", l)
			}
			msgs = append(msgs, m)
		}
		return msgs
	}
	q := url.Values{"t": {"apibuilt"}, "buildargs": {`{"WHO":"api"}`}, "labels": {`{"via":"api"}`}}
	msgs := post(q.Encode(), map[string]string{
		"Dockerfile": "FROM " + busybox + "\nARG WHO\nCOPY f /f\nRUN echo \"$WHO\" >> /f\nCMD [\"cat\", \"/f\"]\n",
		"f":          "from the body\n",
	})
	var stream, id string
	for _, m := range msgs {
		if s, ok := m["stream"].(string); ok {
			stream += s
		}
		if aux, ok := m["aux"].(map[string]any); ok {
			id, _ = aux["ID"].(string)
		}
		if m["errorDetail"] != nil {
			t.Errorf("error message %v", m)
		}
	}
	for _, want := range []string{"Step 1/6 : FROM ", " ---> Running in ", "Successfully built ", "Successfully tagged apibuilt:latest\n"} {
		if !strings.Contains(stream, want) {
			t.Errorf("stream %q\nwant it to contain %q", stream, want)
		}
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) || inspectFormat(t, e, "apibuilt", "{{.Id}}") != id {
		t.Errorf("aux ID %q, want the image's", id)
	}
	wantStdout(t, e.runRm(t, "apibuilt"), "from the body\napi\n")
	if got := inspectFormat(t, e, "apibuilt", "{{.Config.Labels.via}}"); got != "api" {
		t.Errorf("label via = %q, want api", got)
	}

	msgs = post("t=apifailed", map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN exit 3\n"})
	last := msgs[len(msgs)-1]
	detail, _ := last["errorDetail"].(map[string]any)
	if detail == nil || detail["code"] != float64(3) || detail["message"] != "The command '/bin/sh -c exit 3' returned a non-zero code: 3" {
		t.Errorf("last message %v, want errorDetail code 3 with Docker's message", last)
	}
	if ex := e.lodger(t, "image", "exists", "apifailed"); ex.code == 0 {
		t.Error("a failed build tagged its image")
	}
	noBuildLeftovers(t, e)
}

// TestBuildAddURL: ADD downloads a URL the user can reach (here a server
// of the test's own on the host's loopback), as Docker does: 0600, not
// unpacked, named by the URL's last element or by the destination,
// --checksum checked, and the content in the cache key.
func TestBuildAddURL(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	var mu sync.Mutex
	body := "version 1\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, body)
	}))
	defer srv.Close()
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
ADD ` + srv.URL + `/files/notes.txt /dl/
ADD --chmod=0644 ` + srv.URL + `/other /dl/renamed
CMD stat -c '%a %n' /dl/notes.txt /dl/renamed && cat /dl/notes.txt
`})
	wantCode(t, e.lodger(t, "build", "-q", "-t", "addurl", dir), 0)
	wantStdout(t, e.runRm(t, "addurl"), "600 /dl/notes.txt\n644 /dl/renamed\nversion 1\n")
	// Unchanged content: cached. Changed: downloaded into a new layer.
	r := e.lodger(t, "build", "-t", "addurl", dir)
	wantCode(t, r, 0)
	if steps := buildSteps(t, r.stderr); len(steps) != 3 || !cached(steps[1]) || !cached(steps[2]) {
		t.Errorf("%s\nwant both ADD steps cached while the content is the same", r)
	}
	mu.Lock()
	body = "version 2\n"
	mu.Unlock()
	r = e.lodger(t, "build", "-t", "addurl", dir)
	wantCode(t, r, 0)
	if steps := buildSteps(t, r.stderr); len(steps) != 3 || cached(steps[1]) {
		t.Errorf("%s\nwant the ADD step run again after the content changed", r)
	}
	wantStdout(t, e.runRm(t, "addurl", "cat", "/dl/notes.txt"), "version 2\n")
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nADD --checksum=sha256:0000 " + srv.URL + "/f /f\n"})
	wantBuildError(t, e.lodger(t, "build", bad), "digest mismatch")
	noBuildLeftovers(t, e)
}

// TestBuildSecrets, written as the one whose secret must not leak:
// --secret reaches only the RUN that mounts it, as a file (0400, root's,
// or the mount's mode and owner) or a variable, and never a layer, the
// history or the configuration; a required secret not given fails the
// build. Deletions in RUN steps reach the image as whiteouts.
func TestBuildSecrets(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	secretFile := filepath.Join(t.TempDir(), "token")
	const fileSecret, envSecret = "file-secret-4711", "env-secret-0815"
	if err := os.WriteFile(secretFile, []byte(fileSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	// The Dockerfile checks the secrets by digest: their text in it
	// would be in the history by the user's own hand.
	sum := func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + `
RUN mkdir -p /tmp/d && echo x > /tmp/d/f
RUN --mount=type=secret,id=tok sh -c 'test "$(sha256sum < /run/secrets/tok | cut -d" " -f1)" = ` + sum(fileSecret) + ` && stat -c "%a %u" /run/secrets/tok > /seen'
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=1000 stat -c '%a %u' /etc/tok >> /seen
RUN --mount=type=secret,id=envsec,env=MYSEC sh -c 'test "$(printf %s "$MYSEC" | sha256sum | cut -d" " -f1)" = ` + sum(envSecret) + ` && echo env ok >> /seen'
RUN --mount=type=secret,id=absent sh -c 'ls /run/secrets 2>/dev/null | wc -l >> /seen'
RUN rm -r /tmp/d /etc/group
CMD cat /seen; for p in /run /etc/tok /tmp/d /etc/group; do test -e $p && echo $p is there; done; true
`})
	call := call{env: e, extra: []string{"SECRET_VAR=" + envSecret}}
	r := call.run(t, "build", "-q", "-t", "secrets", "--secret", "id=tok,src="+secretFile, "--secret", "id=envsec,env=SECRET_VAR", dir)
	wantCode(t, r, 0)
	// The mount points of the secrets stay out of the image, and what
	// RUN deleted is gone.
	wantStdout(t, e.runRm(t, "secrets"), "400 0\n440 1000\nenv ok\n0\n")
	// Neither secret is anywhere in the image: every layer, the
	// configuration and the history.
	archive := filepath.Join(t.TempDir(), "img.tar")
	wantCode(t, e.lodger(t, "save", "-o", archive, "secrets"), 0)
	unpack := exec.Command("sh", "-c", `mkdir x && tar -C x -xf "$1" && for f in $(find x -type f); do tar -xOf "$f" 2>/dev/null || cat "$f"; done; true`, "sh", archive)
	unpack.Dir = t.TempDir()
	out, err := unpack.Output()
	if err != nil || !strings.Contains(string(out), "/seen") {
		t.Fatalf("unpack the saved image: %v (the configuration's history not read?)", err)
	}
	if strings.Contains(string(out), fileSecret) || strings.Contains(string(out), envSecret) {
		t.Error("a secret is in the saved image")
	}
	hist := e.lodger(t, "history", "--no-trunc", "secrets")
	if strings.Contains(hist.stdout, fileSecret) || strings.Contains(hist.stdout, envSecret) {
		t.Errorf("%s\na secret is in the history", hist)
	}
	// A required secret not given: the build fails, saying which.
	req := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox + "\nRUN --mount=type=secret,id=needed,required=true true\n"})
	wantBuildError(t, e.lodger(t, "build", req), "secret not given", "--secret id=needed")
	noBuildLeftovers(t, e)
}
