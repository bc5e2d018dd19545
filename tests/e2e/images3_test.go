//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/go-units"
)

// newIDRE is what commit and import print: the new image's ID.
var newIDRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// newImage runs commit or import args in e and returns the image ID it
// printed.
func (e *env) newImage(t *testing.T, c call, args ...string) string {
	t.Helper()
	c.env = e
	r := c.run(t, args...)
	wantCode(t, r, 0)
	if !newIDRE.MatchString(r.stdout) {
		t.Fatalf("%s\nwant sha256:ID on stdout", r)
	}
	return strings.TrimSpace(strings.TrimPrefix(r.stdout, "sha256:"))
}

// storageCounts are the images in e and the layer directories of its
// graph root, to see that a failed command left nothing behind.
func (e *env) storageCounts(t *testing.T) (int, int) {
	t.Helper()
	in := e.info(t)
	return in.Storage.Images, len(layerDirs(t, in.Storage.GraphRoot))
}

// tarFiles reads a tar archive into its entry names and the contents of
// its regular files.
func tarFiles(t *testing.T, data []byte) ([]string, map[string]string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, files
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = string(b)
		}
	}
}

// TestImages3Commit commits containers and runs what came of them.
func TestImages3Commit(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantOK(t, e.lodger(t, "run", "-q", "--name", "writer", busybox, "sh", "-c",
		"echo committed > /made && rm /etc/group && mkdir /d && echo deep > /d/f"))

	id := e.newImage(t, call{}, "commit", "-m", "add made", "-a", "Tess Ter <t@example.com>",
		"--change", `CMD ["cat", "/made"]`, "--change", "ENV ADDED=yes", "writer", "committed:v1")
	if got := e.imageID(t, "committed:v1"); got != id {
		t.Errorf("committed:v1 is %s, want the printed %s", got, id)
	}
	wantStdout(t, e.runRm(t, "committed:v1"), "committed\n")
	// The removal is part of the layer, the image's own environment stays.
	wantStdout(t, e.runRm(t, "committed:v1", "sh", "-c", `test ! -e /etc/group && cat /d/f && echo "$ADDED $IMAGE_VAR"`),
		"deep\nyes from-image\n")

	r := e.lodger(t, "history", "--no-trunc", "--format", "json", "committed:v1")
	wantCode(t, r, 0)
	hist := jsonLines[struct {
		ID        string `json:"ID"`
		CreatedBy string `json:"CreatedBy"`
		Comment   string `json:"Comment"`
		Size      string `json:"Size"`
	}](t, r)
	if len(hist) != 2 || hist[0].ID != "sha256:"+id || hist[0].Comment != "add made" || !strings.Contains(hist[0].CreatedBy, "echo committed") || hist[0].Size == "0B" {
		t.Errorf("%s\nwant the commit as the newest history entry", r)
	}
	r = e.lodger(t, "image", "inspect", "committed:v1")
	if !strings.Contains(r.stdout, `"Author": "Tess Ter `) {
		t.Errorf("%s\nwant the author in the configuration", r)
	}

	t.Run("push and pull back", func(t *testing.T) {
		target := registry + "/committed/app:v1"
		wantOK(t, e.lodger(t, "push", "-q", noTLS, "committed:v1", target))
		f := isolatedEnv(t)
		f.pull(t, target, noTLS)
		wantStdout(t, f.runRm(t, target), "committed\n")
	})
	t.Run("the container's command", func(t *testing.T) {
		wantOK(t, e.lodger(t, "run", "-q", "--name", "echoer", busybox, "echo", "again"))
		id := e.newImage(t, call{}, "commit", "echoer")
		wantStdout(t, e.runRm(t, id[:12]), "again\n")
		// No name: a dangling image.
		found := false
		for _, row := range e.images(t) {
			if row.ID == id {
				found = row.Repository == "<none>" && row.Tag == "<none>"
			}
		}
		if !found {
			t.Errorf("images: want %s listed as <none>:<none>", id[:12])
		}
	})
	t.Run("an image entrypoint stays", func(t *testing.T) {
		e.pull(t, ref("config:latest"), noTLS)
		wantStdout(t, e.lodger(t, "run", "-q", "--name", "entry", ref("config:latest"), "first"), "entry first\n")
		e.newImage(t, call{}, "container", "commit", "entry", "entry:v1")
		wantStdout(t, e.runRm(t, "entry:v1"), "entry first\n")
		wantStdout(t, e.runRm(t, "entry:v1", "second"), "entry second\n")
	})
	t.Run("errors", func(t *testing.T) {
		images, layers := e.storageCounts(t)
		wantError(t, e.lodger(t, "commit", "no-such-container"), 1, "no-such-container")
		wantError(t, e.lodger(t, "commit", "--change", "RUN rm -rf /", "writer"), 1, "RUN", "CMD")
		wantError(t, e.lodger(t, "commit", "--change", "EXPOSE http", "writer"), 1, "http")
		wantError(t, e.lodger(t, "commit", "writer", "Bad/Name"), 1, "Bad/Name")
		wantError(t, e.lodger(t, "commit"), 1, "requires 1 or 2 arguments")
		if i, l := e.storageCounts(t); i != images || l != layers {
			t.Errorf("after failed commits: %d images and %d layers, want %d and %d", i, l, images, layers)
		}
	})
}

// TestImages3ExportImport exports a container's files and imports them as
// an image again.
func TestImages3ExportImport(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantOK(t, e.lodger(t, "run", "-q", "--name", "src", busybox, "sh", "-c", "echo exported > /exp && rm /etc/group"))

	file := filepath.Join(e.tmp, "rootfs.tar")
	wantOK(t, e.lodger(t, "export", "-o", file, "src"))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	names, files := tarFiles(t, data)
	if files["exp"] != "exported\n" || !slices.Contains(names, "bin/busybox") || !slices.Contains(names, "etc/passwd") {
		t.Errorf("export: want exp, bin/busybox and etc/passwd in the archive; got %d entries: %.20q", len(names), names)
	}
	if slices.Contains(names, "etc/group") || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "/") || strings.HasPrefix(n, ".wh.") }) {
		t.Errorf("export: want a plain root filesystem without what the container removed; got %q", names)
	}

	t.Run("to stdout", func(t *testing.T) {
		r := e.lodger(t, "container", "export", "src")
		wantCode(t, r, 0)
		_, got := tarFiles(t, []byte(r.stdout))
		if got["exp"] != "exported\n" {
			t.Errorf("export to stdout: exp is %q", got["exp"])
		}
	})
	t.Run("not to a terminal", func(t *testing.T) {
		master, slave, err := openPTY()
		if err != nil {
			t.Fatalf("allocate a pty: %v", err)
		}
		defer master.Close()
		defer slave.Close()
		cmd := e.command(context.Background(), "export", "src")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = slave, &stderr
		err = cmd.Run()
		var ee interface{ ExitCode() int }
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "terminal") {
			t.Errorf("export to a terminal: %v, stderr %q; want exit 1 and a word about the terminal", err, stderr.String())
		}
	})

	id := e.newImage(t, call{}, "import", "-m", "from a file", "--change", `CMD ["cat", "/exp"]`, "--change", "WORKDIR /srv", file, "imported:v1")
	wantStdout(t, e.runRm(t, "imported:v1"), "exported\n")
	wantStdout(t, e.runRm(t, "imported:v1", "sh", "-c", "pwd; test ! -e /etc/group && echo gone"), "/srv\ngone\n")
	r := e.lodger(t, "history", "imported:v1")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "from a file") || !strings.Contains(r.stdout, id[:12]) {
		t.Errorf("%s\nwant the import's message and ID in the history", r)
	}

	t.Run("from stdin", func(t *testing.T) {
		in, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		id := e.newImage(t, call{stdin: in}, "image", "import", "-", "imported:stdin")
		wantStdout(t, e.runRm(t, "imported:stdin", "cat", "/exp"), "exported\n")
		r := e.lodger(t, "history", id)
		if !strings.Contains(r.stdout, "Imported from -") {
			t.Errorf("%s\nwant Docker's comment for an import from stdin", r)
		}
	})
	t.Run("errors leave nothing", func(t *testing.T) {
		images, layers := e.storageCounts(t)
		truncated := filepath.Join(e.tmp, "truncated.tar")
		if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		junk := filepath.Join(e.tmp, "junk.tar")
		if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.lodger(t, "import", truncated, "broken:v1"), 1, "truncated.tar")
		wantError(t, e.lodger(t, "import", junk), 1, "junk.tar")
		wantError(t, e.lodger(t, "import", filepath.Join(e.tmp, "missing.tar")), 1, "missing.tar")
		wantError(t, e.lodger(t, "import", "--change", "FROM x", file), 1, "FROM")
		wantError(t, e.lodger(t, "export", "no-such-container"), 1, "no-such-container")
		wantError(t, e.lodger(t, "export", "-o", filepath.Join(e.tmp, "no", "dir", "x.tar"), "src"), 1, "no/dir")
		if i, l := e.storageCounts(t); i != images || l != layers {
			t.Errorf("after failed imports: %d images and %d layers, want %d and %d", i, l, images, layers)
		}
		for _, r := range e.images(t) {
			if slices.Contains(r.Names, "docker.io/library/broken:v1") {
				t.Errorf("images: a failed import left %v", r.Names)
			}
		}
	})
}

// TestImages3Prune removes dangling images, then unused ones.
func TestImages3Prune(t *testing.T) {
	e := isolatedEnv(t)
	bb := e.pull(t, busybox, noTLS)
	wantOK(t, e.lodger(t, "create", "-q", "--name", "user", busybox, "true"))
	dangling := e.newImage(t, call{}, "commit", "user")
	named := e.newImage(t, call{}, "commit", "user", "kept:v1")

	// Asked and refused: nothing goes.
	r := call{env: e, stdin: strings.NewReader("n\n")}.run(t, "image", "prune")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "WARNING! This will remove all dangling images.") || len(e.images(t)) != 3 {
		t.Errorf("%s\nwant the warning and every image kept", r)
	}

	r = e.lodger(t, "image", "prune", "-f")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "Deleted Images:\ndeleted: sha256:"+dangling+"\n\nTotal reclaimed space: ") {
		t.Errorf("%s\nwant the dangling image deleted and nothing else", r)
	}
	var ids []string
	for _, row := range e.images(t) {
		ids = append(ids, row.ID)
	}
	slices.Sort(ids)
	want := []string{bb, named}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("images after prune: %v, want busybox and kept:v1", ids)
	}
	wantStdout(t, e.lodger(t, "image", "prune", "-f"), "Total reclaimed space: 0B\n")

	// -a: busybox stays while a container uses it.
	r = e.lodger(t, "image", "prune", "-a", "-f")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "untagged: docker.io/library/kept:v1\ndeleted: sha256:"+named) || strings.Contains(r.stdout, bb) {
		t.Errorf("%s\nwant kept:v1 deleted and busybox, which a container uses, kept", r)
	}
	wantOK(t, e.lodger(t, "rm", "user"))
	r = e.lodger(t, "image", "prune", "-a", "-f")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "untagged: "+busybox+"\ndeleted: sha256:"+bb) {
		t.Errorf("%s\nwant busybox deleted once no container uses it", r)
	}
	if n := len(e.images(t)); n != 0 {
		t.Errorf("%d images left after prune -a", n)
	}
}

// dfRow is one entry of `system df --format json`.
type dfRow struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

func (e *env) df(t *testing.T) map[string]dfRow {
	t.Helper()
	r := e.lodger(t, "system", "df", "--format", "json")
	wantCode(t, r, 0)
	// Docker's lines: counts and human sizes as strings, "6B (100%)".
	size := func(s string) int64 {
		s, _, _ = strings.Cut(s, " (")
		n, err := units.FromHumanSize(s)
		if err != nil {
			t.Fatalf("%s\nsize %q: %v", r, s, err)
		}
		return n
	}
	m := map[string]dfRow{}
	for _, row := range jsonLines[map[string]string](t, r) {
		total, _ := strconv.Atoi(row["TotalCount"])
		active, _ := strconv.Atoi(row["Active"])
		m[row["Type"]] = dfRow{Type: row["Type"], Total: total, Active: active, Size: size(row["Size"]), Reclaimable: size(row["Reclaimable"])}
	}
	return m
}

// TestImages3SystemDfPrune follows system df through a pull, a container
// and a volume, and system prune back to nothing.
func TestImages3SystemDfPrune(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "system", "df")
	wantCode(t, r, 0)
	want := []string{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE", "Images", "Containers", "Local Volumes", "Build Cache"}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("%s\nwant %q in Docker's table", r, w)
		}
	}
	if df := e.df(t); df["Images"] != (dfRow{Type: "Images"}) || df["Containers"].Total != 0 {
		t.Errorf("system df of an empty store: %+v", df)
	}

	e.pull(t, busybox, noTLS)
	df := e.df(t)
	img := df["Images"]
	if img.Total != 1 || img.Active != 0 || img.Size < 100_000 || img.Reclaimable != img.Size {
		t.Errorf("system df after a pull: %+v; want one image, all of it reclaimable", img)
	}
	r = e.lodger(t, "system", "df")
	if !strings.Contains(r.stdout, "(100%)") {
		t.Errorf("%s\nwant the reclaimable share", r)
	}

	wantOK(t, e.lodger(t, "run", "-q", "--name", "stopped", "-v", "named:/named", "-v", "/anon", busybox, "sh", "-c", "echo 12345 > /named/f; head -c 50000 /bin/busybox > /big"))
	df = e.df(t)
	if df["Images"].Active != 1 || df["Images"].Reclaimable != 0 {
		t.Errorf("system df with a container: images %+v; want it active, nothing reclaimable", df["Images"])
	}
	if c := df["Containers"]; c.Total != 1 || c.Active != 0 || c.Size < 50_000 || c.Reclaimable != c.Size {
		t.Errorf("system df: containers %+v; want one stopped container of at least 50000 bytes", c)
	}
	if v := df["Local Volumes"]; v.Total != 2 || v.Active != 2 || v.Size != 6 || v.Reclaimable != 0 {
		t.Errorf("system df: volumes %+v; want two in use, 6 bytes", v)
	}

	r = call{env: e, stdin: strings.NewReader("no\n")}.run(t, "system", "prune", "--volumes")
	wantCode(t, r, 0)
	for _, w := range []string{"all stopped containers", "all anonymous volumes not used by at least one container", "all dangling images"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s\nwant the warning to list %q", r, w)
		}
	}
	if len(e.containers(t)) != 1 {
		t.Errorf("system prune answered no removed containers")
	}

	ctr := e.containers(t)[0].ID
	r = e.lodger(t, "system", "prune", "-f", "--volumes")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "Deleted Containers:\n"+ctr+"\n\nDeleted Volumes:\n") || strings.Contains(r.stdout, "Deleted Images") || strings.Contains(r.stdout, "named\n") {
		t.Errorf("%s\nwant the container and the anonymous volume deleted, the named volume and busybox kept", r)
	}
	df = e.df(t)
	if df["Containers"].Total != 0 || df["Local Volumes"].Total != 1 || df["Images"].Total != 1 || df["Images"].Reclaimable != df["Images"].Size {
		t.Errorf("system df after system prune: %+v", df)
	}

	r = e.lodger(t, "system", "prune", "-a", "-f")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "Deleted Images:\nuntagged: "+busybox+"\n") {
		t.Errorf("%s\nwant busybox deleted by system prune -a", r)
	}
	if df = e.df(t); df["Images"] != (dfRow{Type: "Images"}) {
		t.Errorf("system df after system prune -a: images %+v, want none", df["Images"])
	}
}

// TestImages3Filters lists images with -a, --digests, --no-trunc and
// filters.
func TestImages3Filters(t *testing.T) {
	e := isolatedEnv(t)
	bb := e.pull(t, busybox, noTLS)
	cfg := e.pull(t, ref("config:latest"), noTLS)
	wantOK(t, e.lodger(t, "create", "-q", "--name", "c1", busybox, "true"))
	// An unnamed image with a named one built on it: intermediate.
	inter := e.newImage(t, call{}, "commit", "c1")
	wantOK(t, e.lodger(t, "create", "-q", "--name", "c2", inter, "true"))
	labelled := e.newImage(t, call{}, "commit", "--change", "LABEL team=blue tier=web", "c2", "example.com/web/app:v2")
	dangling := e.newImage(t, call{}, "commit", "c1")
	wantOK(t, e.lodger(t, "rm", "c1", "c2"))

	ids := func(args ...string) []string {
		t.Helper()
		r := e.lodger(t, append([]string{"images", "-q", "--no-trunc"}, args...)...)
		wantCode(t, r, 0)
		var out []string
		for _, l := range lines(r.stdout) {
			if !strings.HasPrefix(l, "sha256:") || len(l) != 71 {
				t.Fatalf("%s\nwant full sha256: IDs", r)
			}
			out = append(out, strings.TrimPrefix(l, "sha256:"))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	tests := []struct {
		args []string
		want []string
	}{
		{nil, sorted(bb, cfg, labelled, dangling)},
		{[]string{"-a"}, sorted(bb, cfg, labelled, dangling, inter)},
		{[]string{"--filter", "dangling=true"}, []string{dangling}},
		{[]string{"-a", "--filter", "dangling=true"}, sorted(dangling, inter)},
		{[]string{"--filter", "dangling=false"}, sorted(bb, cfg, labelled)},
		{[]string{"--filter", "reference=*/lodger-test/busybox"}, []string{bb}},
		{[]string{"--filter", "reference=*/lodger-test/*:latest"}, sorted(bb, cfg)},
		{[]string{"--filter", "reference=example.com/web/app", "-f", "reference=*/*/config"}, sorted(labelled, cfg)},
		{[]string{"--filter", "label=team=blue"}, []string{labelled}},
		{[]string{"--filter", "label=team", "--filter", "label=tier=db"}, nil},
		{[]string{"--filter", "since=" + ref("config:latest")}, sorted(labelled, dangling)},
		{[]string{"--filter", "before=" + dangling[:12]}, sorted(bb, cfg, labelled)},
		{[]string{"--filter", "since=" + ref("config:latest"), "--filter", "dangling=false"}, []string{labelled}},
	}
	for _, tt := range tests {
		if got := ids(tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("images %s: got %v, want %v", strings.Join(tt.args, " "), got, tt.want)
		}
	}

	r := e.lodger(t, "images", "--digests", "--filter", "reference="+busybox)
	wantCode(t, r, 0)
	ls := lines(r.stdout)
	if len(ls) != 2 || !strings.Contains(ls[0], "DIGEST") || !strings.Contains(ls[1], "sha256:") || !strings.Contains(ls[1], bb[:12]) {
		t.Errorf("%s\nwant a DIGEST column with busybox's manifest digest", r)
	}
	r = e.lodger(t, "images", "--no-trunc", "--filter", "dangling=true")
	if !strings.Contains(r.stdout, "<none>") || !strings.Contains(r.stdout, "sha256:"+dangling) {
		t.Errorf("%s\nwant the dangling image by its full ID", r)
	}

	wantError(t, e.lodger(t, "images", "--filter", "colour=red"), 1, "colour")
	wantError(t, e.lodger(t, "images", "--filter", "dangling=maybe"), 1, "dangling")
	wantError(t, e.lodger(t, "images", "--filter", "before=no-such-image"), 1, "no-such-image")
}
