package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
)

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile("Dockerfile", []byte(`ARG BASE=busybox
ARG TAG=${BASE}-x
FROM $BASE AS build
RUN echo hi
FROM scratch AS unused
COPY a /a
FROM ${BASE}
COPY --from=build /x /y
`))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	g, err := df.globalArgs(map[string]string{"BASE": "alpine", "OTHER": "1"}, used)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"BASE=alpine", "TAG=alpine-x"}, g.list()); diff != "" {
		t.Errorf("global args (-want +got):\n%s", diff)
	}
	if !used["BASE"] || used["OTHER"] {
		t.Errorf("consumed build args %v, want BASE only", used)
	}
	target, err := df.targetIndex("")
	if err != nil || target != 2 {
		t.Fatalf("target %d, %v; want the last stage, 2", target, err)
	}
	// The scratch stage is needed by nothing: BuildKit skips it.
	if diff := cmp.Diff([]int{0, 2}, df.neededStages(target, g)); diff != "" {
		t.Errorf("needed stages (-want +got):\n%s", diff)
	}
	if got := df.stepCount([]int{0, 2}, 0); got != 4 {
		t.Errorf("step count %d, want 4 (two FROMs, RUN, COPY)", got)
	}
	if _, err := df.targetIndex("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown --target: %v, want an error naming it", err)
	}
	if i, _ := df.targetIndex("BUILD"); i != 0 {
		t.Errorf("--target BUILD found stage %d, want 0 (names are case-insensitive)", i)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM busybox\nFOO bar\n", "line 2: unknown instruction: FOO"},
		{"FROM busybox\nCOPY --nope=1 a b\n", "line 2"},
		{"RUN true\n", "no build stage"},
		{"", "file with no instructions"},
	} {
		_, err := parseDockerfile("Dockerfile.x", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "Dockerfile.x") {
			t.Errorf("%q: error %v, want one naming Dockerfile.x and %q", tc.src, err, tc.want)
		}
	}
}

func TestExpandShellRules(t *testing.T) {
	df, err := parseDockerfile("Dockerfile", []byte("FROM x\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"A=1", "EMPTY="}
	for in, want := range map[string]string{
		"$A":             "1",
		"${A}b":          "1b",
		"${B:-def}":      "def",
		"${EMPTY:-def}":  "def",
		"${A:+set}":      "set",
		`'$A'`:           "$A",
		`\$A`:            "$A",
		"${UNSET}x":      "x",
		"pre${A}${A}suf": "pre11suf",
	} {
		got, err := df.expand(in, env)
		if err != nil || got != want {
			t.Errorf("expand %q = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestShellForm(t *testing.T) {
	if diff := cmp.Diff([]string{"/bin/sh", "-c", "echo a b"}, shellForm(nil, []string{"echo a", "b"})); diff != "" {
		t.Errorf("default shell (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/bin/bash", "-xc", "echo"}, shellForm([]string{"/bin/bash", "-xc"}, []string{"echo"})); diff != "" {
		t.Errorf("SHELL (-want +got):\n%s", diff)
	}
}

func TestCacheKey(t *testing.T) {
	base := key("p", "RUN echo", "")
	for name, k := range map[string]string{
		"parent":      key("q", "RUN echo", ""),
		"instruction": key("p", "RUN echo 2", ""),
		"content":     key("p", "RUN echo", "x"),
		"boundary":    key("p", "RUN ech", "o"),
	} {
		if k == base {
			t.Errorf("a different %s keeps the key", name)
		}
	}
	if key("p", "RUN echo", "") != base {
		t.Error("the key is not a function of its inputs")
	}
}

func TestExposePorts(t *testing.T) {
	for in, want := range map[string][]string{
		"80":        {"80/tcp"},
		"53/UDP":    {"53/udp"},
		"9000-9002": {"9000/tcp", "9001/tcp", "9002/tcp"},
	} {
		got, err := exposePorts(in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EXPOSE %s (-want +got):\n%s", in, diff)
		}
	}
	for _, bad := range []string{"x", "80/icmp", "9-1", "70000"} {
		if _, err := exposePorts(bad); err == nil {
			t.Errorf("EXPOSE %s: no error", bad)
		}
	}
}

// writeContext makes a build context from name -> content; a content
// starting with "->" makes a symlink.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contextSource(t *testing.T, dir string) *source {
	t.Helper()
	ig, _, err := readIgnore(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSource(dir, ig, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// names lists what copying src would write, as the tar stream has it.
func names(t *testing.T, s *source, src string) []string {
	t.Helper()
	ms, err := s.resolve("COPY", src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		var buf bytes.Buffer
		if err := s.writeTar(&buf, m.rel, m.base, copyMeta{}); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h.Name)
		}
	}
	return out
}

func TestDockerignore(t *testing.T) {
	dir := writeContext(t, map[string]string{
		".dockerignore":    "# comment\n*.log\nsecret/\n!secret/keep.txt\nnode_modules\n",
		"a.txt":            "a",
		"b.log":            "b",
		"secret/key":       "k",
		"secret/keep.txt":  "keep",
		"node_modules/x":   "x",
		"src/app.go":       "go",
		"src/debug.log":    "d",
		"Dockerfile":       "FROM x",
		"Dockerfile.other": "FROM y",
	})
	s := contextSource(t, dir)
	got := names(t, s, ".")
	// *.log is the context root's only, as Docker's patterns are
	// anchored there.
	want := []string{"./", ".dockerignore", "Dockerfile", "Dockerfile.other", "a.txt", "secret/keep.txt", "src/", "src/app.go", "src/debug.log"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("COPY . (-want +got):\n%s", diff)
	}
	if _, err := s.resolve("COPY", "b.log"); !errors.Is(err, ErrSourceNotFound) {
		t.Errorf("COPY of an ignored file: %v, want ErrSourceNotFound", err)
	}
	if got := names(t, s, "*.txt"); !cmp.Equal(got, []string{"a.txt"}) {
		t.Errorf("COPY *.txt copied %v, want a.txt only", got)
	}
}

func TestDockerfileDockerignore(t *testing.T) {
	// BuildKit reads X.dockerignore beside a Dockerfile named X first.
	dir := writeContext(t, map[string]string{
		".dockerignore":           "a.txt\n",
		"Dockerfile.dockerignore": "b.txt\n",
		"a.txt":                   "a",
		"b.txt":                   "b",
	})
	ig, _, err := readIgnore(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSource(dir, ig, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.resolve("COPY", "a.txt"); err != nil {
		t.Errorf("a.txt: %v; the Dockerfile's own ignore file does not exclude it", err)
	}
	if _, err := s.resolve("COPY", "b.txt"); !errors.Is(err, ErrSourceNotFound) {
		t.Errorf("b.txt: %v, want it excluded", err)
	}
}

// TestSourceEscapes is written as the attacker: a context (a cloned
// repository, say) whose Dockerfile or symlinks reach for the user's
// files outside it.
func TestSourceEscapes(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, map[string]string{
		"up":         "->" + outside + "/secret",
		"rel":        "->../../../../../../../../" + outside + "/secret",
		"dirlink":    "->" + outside,
		"inside":     "->a.txt",
		"abs-inside": "->/a.txt",
		"a.txt":      "a",
	})
	s := contextSource(t, dir)
	for _, src := range []string{"../secret", "../../etc/passwd", "sub/../../x"} {
		if _, err := s.resolve("COPY", src); !errors.Is(err, ErrOutsideContext) {
			t.Errorf("COPY %s: %v, want ErrOutsideContext", src, err)
		}
	}
	// A symlink out resolves inside the context, where there is nothing.
	for _, src := range []string{"up", "rel", "dirlink/secret", "dirlink"} {
		ms, err := s.resolve("COPY", src)
		if err == nil {
			var buf bytes.Buffer
			for _, m := range ms {
				_ = s.writeTar(&buf, m.rel, m.base, copyMeta{})
			}
			if bytes.Contains(buf.Bytes(), []byte("SECRET")) {
				t.Errorf("COPY %s copied the file outside the context", src)
			}
			continue
		}
		if !errors.Is(err, ErrSourceNotFound) {
			t.Errorf("COPY %s: %v, want not found", src, err)
		}
	}
	// Links that stay inside work, an absolute one as if the context
	// were the root.
	for _, src := range []string{"inside", "abs-inside"} {
		ms, err := s.resolve("COPY", src)
		if err != nil || len(ms) != 1 || ms[0].rel != "a.txt" {
			t.Errorf("COPY %s: %+v, %v; want a.txt", src, ms, err)
		}
	}
	// Inside a copied directory a symlink is copied as a link, never
	// followed.
	dir2 := writeContext(t, map[string]string{"d/link": "->" + outside + "/secret"})
	s2 := contextSource(t, dir2)
	ms, err := s2.resolve("COPY", "d")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s2.writeTar(&buf, ms[0].rel, ms[0].base, copyMeta{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("SECRET")) {
		t.Error("a symlink in a copied directory was followed out of the context")
	}
}

func TestDigestIgnoresTimes(t *testing.T) {
	dir := writeContext(t, map[string]string{"f": "one"})
	s := contextSource(t, dir)
	ms, err := s.resolve("COPY", "f")
	if err != nil {
		t.Fatal(err)
	}
	base := func(m match) string { return m.base }
	d1, err := s.digest(ms, copyMeta{}, base)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "f"), later, later); err != nil {
		t.Fatal(err)
	}
	if d2, _ := s.digest(ms, copyMeta{}, base); d2 != d1 {
		t.Error("touching a file changed its digest: the cache is keyed by times")
	}
	if d3, _ := s.digest(ms, copyMeta{uid: 1}, base); d3 == d1 {
		t.Error("--chown did not change the digest")
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d4, _ := s.digest(ms, copyMeta{}, base); d4 == d1 {
		t.Error("changed content kept the digest")
	}
}

func TestParseChmod(t *testing.T) {
	m, err := parseChmod("0755")
	if err != nil || *m != 0o755 {
		t.Errorf("0755: %v, %v", m, err)
	}
	for _, bad := range []string{"u+x", "99", "17777"} {
		if _, err := parseChmod(bad); err == nil {
			t.Errorf("--chmod=%s accepted", bad)
		}
	}
}

var _ instructions.Command = (*instructions.RunCommand)(nil)

func TestRunHeredocs(t *testing.T) {
	df, err := parseDockerfile("Dockerfile", []byte("FROM x\nRUN <<EOF\necho a\necho b\nEOF\nRUN <<-S\n\t#!/bin/sh\n\techo s\n\tS\nRUN cat <<A > /f\nline\nA\nRUN [\"echo\", \"exec\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := df.stages[0].Commands
	want := []struct {
		args   []string
		script *heredocScript
	}{
		{[]string{"echo a\necho b\n"}, nil},
		{[]string{"/dev/pipes/S"}, &heredocScript{name: "S", data: "#!/bin/sh\necho s\n"}},
		{[]string{"cat <<A > /f\nline\nA"}, nil},
		{[]string{"echo", "exec"}, nil},
	}
	for i, w := range want {
		args, script, err := runArgs(cmds[i].(*instructions.RunCommand))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w.args, args); diff != "" {
			t.Errorf("RUN %d args (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(w.script, script, cmp.AllowUnexported(heredocScript{})); diff != "" {
			t.Errorf("RUN %d script (-want +got):\n%s", i, diff)
		}
	}
}

func TestUnpackContext(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range map[string]string{"Dockerfile": "FROM x\n", "sub/a": "a"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Uid: 1234}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	dir, df, err := unpackContext(&buf)
	defer os.RemoveAll(dir)
	if err != nil || df != nil {
		t.Fatalf("unpack a tar: %v, Dockerfile %q", err, df)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub/a")); err != nil || string(b) != "a" {
		t.Errorf("sub/a: %q, %v", b, err)
	}
	dir2, df, err := unpackContext(strings.NewReader("FROM busybox\nRUN true\n"))
	defer os.RemoveAll(dir2)
	if err != nil || string(df) != "FROM busybox\nRUN true\n" {
		t.Errorf("a Dockerfile on stdin: %q, %v", df, err)
	}
	if entries, _ := os.ReadDir(dir2); len(entries) != 0 {
		t.Errorf("a Dockerfile alone has an empty context, got %v", entries)
	}
}

func TestCopyExclude(t *testing.T) {
	dir := writeContext(t, map[string]string{"d/a.txt": "a", "d/b.md": "b", "d/sub/c.txt": "c", "d/sub/d.go": "d"})
	s := contextSource(t, dir)
	pm, err := patternmatcher.New([]string{"*.txt", "sub/*.go"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.resolve("COPY", "d")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.writeTar(&buf, ms[0].rel, ".", copyMeta{exclude: pm}); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		got = append(got, h.Name)
	}
	if diff := cmp.Diff([]string{"./", "b.md", "sub/", "sub/c.txt"}, got); diff != "" {
		t.Errorf("COPY --exclude=*.txt --exclude=sub/*.go d (-want +got):\n%s", diff)
	}
}

func TestDownload(t *testing.T) {
	modified := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		_, _ = io.WriteString(w, "payload") // the client reports a short body
	}))
	defer srv.Close()
	dir := t.TempDir()
	name, err := download(context.Background(), srv.URL+"/files/tool.tar.gz?x=1", dir, 0, "")
	if err != nil || name != "tool.tar.gz" {
		t.Fatalf("download: %q, %v", name, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "0", name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(modified) {
		t.Errorf("downloaded file %v %v, want 0600 and the Last-Modified time", fi.Mode(), fi.ModTime())
	}
	if name, err := download(context.Background(), srv.URL, dir, 1, ""); err != nil || name != "download" {
		t.Errorf("a URL without a path: %q, %v; want the name download", name, err)
	}
	sum := "sha256:239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5" // of "payload"
	if _, err := download(context.Background(), srv.URL+"/f", dir, 2, sum); err != nil {
		t.Errorf("the right --checksum: %v", err)
	}
	if _, err := download(context.Background(), srv.URL+"/f", dir, 3, "sha256:00"); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("a wrong --checksum: %v, want a digest mismatch", err)
	}
	if _, err := download(context.Background(), srv.URL+"/missing", dir, 4, ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v", err)
	}
}
