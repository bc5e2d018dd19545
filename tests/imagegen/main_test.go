package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// fakeBusybox stands in for the real binary where only the tar layout
// matters; "busybox" is in the list as in the real --list output.
func fakeBusybox() busybox {
	return busybox{data: []byte("not really busybox\n"), applets: []string{"[", "busybox", "cat", "ls", "sh"}}
}

// fakeChecker stands in for the tests/checker binary.
var fakeChecker = []byte("not really the checker\n")

// fakeNettool stands in for the tests/nettool binary.
var fakeNettool = []byte("not really nettool\n")

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func newTestLayout(t *testing.T) *layout {
	t.Helper()
	l, err := createLayout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func readJSON(t *testing.T, l *layout, d descriptor, v any) {
	t.Helper()
	data, err := l.readBlob(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("parse %s: %v", d.Digest, err)
	}
}

// uncompressed returns the tar inside a layer blob, checking the blob
// against its descriptor on the way.
func uncompressed(t *testing.T, l *layout, d descriptor) []byte {
	t.Helper()
	blob, err := l.readBlob(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Hex(blob); got != d.Digest {
		t.Fatalf("blob %s hashes to %s", d.Digest, got)
	}
	if int64(len(blob)) != d.Size {
		t.Fatalf("blob %s is %d bytes, descriptor says %d", d.Digest, len(blob), d.Size)
	}
	var r io.Reader
	switch d.MediaType {
	case mediaTypeLayerGzip:
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case mediaTypeLayerZstd:
		zr, err := zstd.NewReader(bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected layer media type %s", d.MediaType)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompress %s: %v", d.Digest, err)
	}
	return data
}

type member struct {
	hdr  *tar.Header
	body string
}

func members(t *testing.T, tarData []byte) []member {
	t.Helper()
	var ms []member
	tr := tar.NewReader(bytes.NewReader(tarData))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{hdr, string(body)})
	}
}

func names(ms []member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.hdr.Name)
	}
	return out
}

func find(t *testing.T, ms []member, name string) member {
	t.Helper()
	for _, m := range ms {
		if m.hdr.Name == name {
			return m
		}
	}
	t.Fatalf("no entry %q in %q", name, names(ms))
	return member{}
}

func TestLayerDigests(t *testing.T) {
	l := newTestLayout(t)
	fill := tarEntries(dirEntry("d", 0o755), textEntry("d/f", "hello\n"), symlinkEntry("l", "d/f"))
	gz, err := l.writeLayer(compressGzip, fill)
	if err != nil {
		t.Fatal(err)
	}
	zs, err := l.writeLayer(compressZstd, fill)
	if err != nil {
		t.Fatal(err)
	}
	if gz.desc.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("gzip media type %s", gz.desc.MediaType)
	}
	if zs.desc.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("zstd media type %s", zs.desc.MediaType)
	}
	gzTar := uncompressed(t, l, gz.desc)
	zsTar := uncompressed(t, l, zs.desc)
	if got := sha256Hex(gzTar); got != gz.diffID {
		t.Errorf("gzip diff_id %s, uncompressed tar hashes to %s", gz.diffID, got)
	}
	if !bytes.Equal(gzTar, zsTar) {
		t.Error("zstd layer does not decompress to the same tar as the gzip one")
	}
	if zs.diffID != gz.diffID {
		t.Errorf("zstd diff_id %s != gzip diff_id %s", zs.diffID, gz.diffID)
	}
	blob, _ := l.readBlob(zs.desc.Digest)
	if !bytes.HasPrefix(blob, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("zstd blob starts with % x", blob[:4])
	}
	ms := members(t, gzTar)
	if got, want := names(ms), []string{"d/", "d/f", "l"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	for _, m := range ms {
		if !m.hdr.ModTime.Equal(epoch) {
			t.Errorf("%s mtime %v, want %v", m.hdr.Name, m.hdr.ModTime, epoch)
		}
	}

	// The image config must list the diff_ids, in layer order.
	md, err := l.writeImage(baseConfig("amd64"), []layer{gz, zs})
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	readJSON(t, l, md, &m)
	var cfg imageConfig
	readJSON(t, l, m.Config, &cfg)
	if m.MediaType != mediaTypeManifest || m.Config.MediaType != mediaTypeConfig {
		t.Errorf("manifest %s, config %s", m.MediaType, m.Config.MediaType)
	}
	if !slices.Equal(cfg.RootFS.DiffIDs, []string{gz.diffID, zs.diffID}) || cfg.RootFS.Type != "layers" {
		t.Errorf("rootfs %+v", cfg.RootFS)
	}
	sameBlob := func(a, b descriptor) bool {
		return a.MediaType == b.MediaType && a.Digest == b.Digest && a.Size == b.Size
	}
	if !slices.EqualFunc(m.Layers, []descriptor{gz.desc, zs.desc}, sameBlob) {
		t.Errorf("manifest layers %+v", m.Layers)
	}
}

func TestPathOrder(t *testing.T) {
	fill := tarEntries(textEntry("bin-x", ""), textEntry("bin/sh", ""), dirEntry("bin", 0o755), textEntry("a", ""), textEntry("bin/a/b", ""), dirEntry("bin/a", 0o755))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := fill(tw); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	want := []string{"a", "bin/", "bin/a/", "bin/a/b", "bin/sh", "bin-x"}
	if got := names(members(t, buf.Bytes())); !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

// testSet builds the full set from the fake busybox and returns the layout
// and its tagged descriptors by name.
func testSet(t *testing.T) (*layout, map[string]descriptor) {
	t.Helper()
	l := newTestLayout(t)
	if err := buildTestSet(l, fakeBusybox(), fakeChecker, fakeNettool); err != nil {
		t.Fatal(err)
	}
	if err := l.finish(); err != nil {
		t.Fatal(err)
	}
	refs := map[string]descriptor{}
	for _, d := range l.refs {
		refs[d.Annotations[annotationRefName]] = d
	}
	return l, refs
}

func imageOf(t *testing.T, l *layout, d descriptor) (manifest, imageConfig) {
	t.Helper()
	if d.MediaType != mediaTypeManifest {
		t.Fatalf("%s is %s, want a manifest", d.Digest, d.MediaType)
	}
	var m manifest
	readJSON(t, l, d, &m)
	var cfg imageConfig
	readJSON(t, l, m.Config, &cfg)
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		t.Fatalf("%d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	for i, ly := range m.Layers {
		if got := sha256Hex(uncompressed(t, l, ly)); got != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d diff_id %s, tar hashes to %s", i, cfg.RootFS.DiffIDs[i], got)
		}
	}
	return m, cfg
}

func layerMembers(t *testing.T, l *layout, m manifest, i int) []member {
	t.Helper()
	return members(t, uncompressed(t, l, m.Layers[i]))
}

func TestTestSetNames(t *testing.T) {
	l, _ := testSet(t)
	var got []string
	for _, d := range l.refs {
		got = append(got, d.Annotations[annotationRefName])
	}
	want := []string{
		"lodger-test/busybox:latest",
		"lodger-test/busybox:zstd",
		"lodger-test/busybox:history",
		"lodger-test/layers:latest",
		"lodger-test/multiarch:latest",
		"lodger-test/config:latest",
		"lodger-test/health:latest",
		"lodger-test/evil-dotdot:latest",
		"lodger-test/evil-symlink:latest",
		"lodger-test/evil-hardlink:latest",
		"lodger-test/mounts:latest",
		"lodger-test/checker:latest",
		"lodger-test/evil-devsymlink:latest",
		"lodger-test/evil-devsymlink:etc",
		"lodger-test/evil-devnull:latest",
		"lodger-test/evil-devconsole:latest",
		"lodger-test/evil-devpts:latest",
		"lodger-test/evil-procsymlink:latest",
		"lodger-test/evil-procsymlink:root",
		"lodger-test/evil-syssymlink:latest",
		"lodger-test/evil-masklinks:latest",
		"lodger-test/evil-etchosts:latest",
		"lodger-test/evil-passwd-host:latest",
		"lodger-test/evil-passwd-host:shadow",
		"lodger-test/evil-passwd-fifo:latest",
		"lodger-test/evil-passwd-zero:latest",
		"lodger-test/evil-workdir:latest",
		"lodger-test/net:latest",
		"lodger-test/cve-trojans:latest",
		"lodger-test/sparse-bomb:latest",
	}
	if !slices.Equal(got, want) {
		t.Errorf("tagged %q, want %q", got, want)
	}
	var idx index
	data, err := os.ReadFile(filepath.Join(l.dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != len(want) || idx.SchemaVersion != 2 {
		t.Errorf("index.json %s", data)
	}
}

func TestTestSetDeterministic(t *testing.T) {
	l1, _ := testSet(t)
	l2, _ := testSet(t)
	if !slices.EqualFunc(l1.refs, l2.refs, func(a, b descriptor) bool { return a.Digest == b.Digest }) {
		t.Errorf("two builds differ:\n%+v\n%+v", l1.refs, l2.refs)
	}
}

func TestBaseLayer(t *testing.T) {
	l, refs := testSet(t)
	m, cfg := imageOf(t, l, refs["lodger-test/busybox:latest"])
	if cfg.Architecture != "amd64" || cfg.OS != "linux" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if want := []string{pathEnv, "IMAGE_VAR=from-image"}; !slices.Equal(cfg.Config.Env, want) {
		t.Errorf("Env %q", cfg.Config.Env)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"sh"}) {
		t.Errorf("Cmd %q", cfg.Config.Cmd)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	ms := layerMembers(t, l, m, 0)

	bb := find(t, ms, "bin/busybox")
	if bb.hdr.Typeflag != tar.TypeReg || bb.hdr.Mode != 0o755 || bb.body != string(fakeBusybox().data) {
		t.Errorf("bin/busybox: type %c mode %o", bb.hdr.Typeflag, bb.hdr.Mode)
	}
	for _, a := range []string{"sh", "[", "cat", "ls"} {
		e := find(t, ms, "bin/"+a)
		if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "busybox" {
			t.Errorf("bin/%s: type %c -> %q", a, e.hdr.Typeflag, e.hdr.Linkname)
		}
	}
	// "busybox" is in the applet list but must not become a self-link.
	if n := len(slices.DeleteFunc(names(ms), func(s string) bool { return s != "bin/busybox" })); n != 1 {
		t.Errorf("bin/busybox written %d times", n)
	}
	dirs := map[string]struct {
		mode     int64
		uid, gid int
	}{
		"etc/": {0o755, 0, 0}, "tmp/": {0o1777, 0, 0}, "root/": {0o700, 0, 0},
		"home/alice/": {0o755, 1000, 1000}, "var/": {0o755, 0, 0}, "usr/bin/": {0o755, 0, 0},
	}
	for name, want := range dirs {
		e := find(t, ms, name)
		if e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != want.mode || e.hdr.Uid != want.uid || e.hdr.Gid != want.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d", name, e.hdr.Typeflag, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid)
		}
	}
	if got := find(t, ms, "etc/passwd").body; !strings.Contains(got, "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n") || !strings.HasPrefix(got, "root:x:0:0:root:/root:/bin/sh\n") {
		t.Errorf("etc/passwd:\n%s", got)
	}
	if got := find(t, ms, "etc/group").body; !strings.Contains(got, "staff:x:50:alice\n") || !strings.Contains(got, "audio:x:29:alice\n") {
		t.Errorf("etc/group:\n%s", got)
	}

	// The zstd image carries the same tar, so the same config.
	mz, _ := imageOf(t, l, refs["lodger-test/busybox:zstd"])
	if mz.Layers[0].MediaType != mediaTypeLayerZstd || mz.Config.Digest != m.Config.Digest {
		t.Errorf("zstd image: layer %s, config %s vs %s", mz.Layers[0].MediaType, mz.Config.Digest, m.Config.Digest)
	}
}

func TestWhiteoutLayer(t *testing.T) {
	l, refs := testSet(t)
	m, _ := imageOf(t, l, refs["lodger-test/layers:latest"])
	if len(m.Layers) != 3 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	for _, name := range []string{"data/keep", "data/gone", "opq/old", "opq/sub/old2"} {
		if e := find(t, layerMembers(t, l, m, 1), name); e.hdr.Typeflag != tar.TypeReg || e.body == "" {
			t.Errorf("layer 2 %s: type %c body %q", name, e.hdr.Typeflag, e.body)
		}
	}
	ms := layerMembers(t, l, m, 2)
	got := names(ms)
	// Names per the OCI layer spec: ".wh.<name>" deletes <name>,
	// ".wh..wh..opq" makes its directory opaque, and whiteouts come before
	// their siblings.
	want := []string{"data/", "data/.wh.gone", "opq/", "opq/.wh..wh..opq", "opq/new"}
	if !slices.Equal(got, want) {
		t.Errorf("layer 3 entries %q, want %q", got, want)
	}
	for _, name := range []string{"data/.wh.gone", "opq/.wh..wh..opq"} {
		if e := find(t, ms, name); e.hdr.Typeflag != tar.TypeReg || e.hdr.Size != 0 {
			t.Errorf("%s: type %c size %d", name, e.hdr.Typeflag, e.hdr.Size)
		}
	}
}

func TestMultiarch(t *testing.T) {
	l, refs := testSet(t)
	d := refs["lodger-test/multiarch:latest"]
	if d.MediaType != mediaTypeIndex {
		t.Fatalf("multiarch is %s", d.MediaType)
	}
	var idx index
	readJSON(t, l, d, &idx)
	if idx.MediaType != mediaTypeIndex || len(idx.Manifests) != 2 {
		t.Fatalf("index %+v", idx)
	}
	base := refs["lodger-test/busybox:latest"]
	var bm manifest
	readJSON(t, l, base, &bm)
	for i, arch := range []string{"amd64", "arm64"} {
		md := idx.Manifests[i]
		if md.Platform == nil || md.Platform.Architecture != arch || md.Platform.OS != "linux" {
			t.Errorf("manifest %d platform %+v", i, md.Platform)
		}
		m, cfg := imageOf(t, l, md)
		if cfg.Architecture != arch {
			t.Errorf("%s config architecture %s", arch, cfg.Architecture)
		}
		last := layerMembers(t, l, m, len(m.Layers)-1)
		if len(last) != 1 || last[0].hdr.Name != "arch" || last[0].body != arch+"\n" {
			t.Errorf("%s arch layer %q", arch, names(last))
		}
		wantLayers := map[string]int{"amd64": 2, "arm64": 1}[arch]
		if len(m.Layers) != wantLayers {
			t.Errorf("%s has %d layers, want %d", arch, len(m.Layers), wantLayers)
		}
		if arch == "amd64" && m.Layers[0].Digest != bm.Layers[0].Digest {
			t.Errorf("amd64 does not start with the base layer")
		}
	}
}

func TestConfigImage(t *testing.T) {
	l, refs := testSet(t)
	_, cfg := imageOf(t, l, refs["lodger-test/config:latest"])
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, []string{"/bin/echo", "entry"}) || !slices.Equal(c.Cmd, []string{"default-arg"}) ||
		c.WorkingDir != "/does/not/exist/yet" || c.User != "alice" ||
		!slices.Equal(c.Env, []string{pathEnv, "IMAGE_VAR=from-image", "GREETING=hello from image"}) {
		t.Errorf("config %+v", c)
	}
}

func TestEvilImages(t *testing.T) {
	l, refs := testSet(t)

	m, _ := imageOf(t, l, refs["lodger-test/evil-dotdot:latest"])
	ms := layerMembers(t, l, m, 1)
	if len(ms) != 1 || ms[0].hdr.Name != "../../../../../../tmp/lodger-evil-dotdot" || ms[0].hdr.Typeflag != tar.TypeReg || ms[0].body != "pwned" {
		t.Errorf("evil-dotdot layer %q", names(ms))
	}

	m, _ = imageOf(t, l, refs["lodger-test/evil-symlink:latest"])
	ms = layerMembers(t, l, m, 1)
	for name, target := range map[string]string{"escape": "/tmp", "escape2": "../../../../../../../../tmp"} {
		if e := find(t, ms, name); e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != target {
			t.Errorf("%s: type %c -> %q", name, e.hdr.Typeflag, e.hdr.Linkname)
		}
	}
	ms = layerMembers(t, l, m, 2)
	if got := names(ms); !slices.Equal(got, []string{"escape/lodger-evil-symlink", "escape2/lodger-evil-symlink2"}) {
		t.Errorf("evil-symlink layer 3 %q", got)
	}
	for _, e := range ms {
		if e.body != "pwned" {
			t.Errorf("%s body %q", e.hdr.Name, e.body)
		}
	}

	m, _ = imageOf(t, l, refs["lodger-test/evil-hardlink:latest"])
	ms = layerMembers(t, l, m, 1)
	if got := names(ms); !slices.Equal(got, []string{"etc/passwd", "etc/shadow", "stolen", "stolen2", "trailer"}) {
		t.Fatalf("evil-hardlink layer %q", got)
	}
	for i, body := range []string{evilHardlinkPasswd, evilHardlinkShadow} {
		if ms[i].hdr.Typeflag != tar.TypeReg || ms[i].body != body {
			t.Errorf("%s: type %c, %q", ms[i].hdr.Name, ms[i].hdr.Typeflag, ms[i].body)
		}
	}
	for i, target := range []string{"../../../../../../../../etc/passwd", "/etc/shadow"} {
		if e := ms[2+i]; e.hdr.Typeflag != tar.TypeLink || e.hdr.Linkname != target {
			t.Errorf("%s: type %c -> %q", e.hdr.Name, e.hdr.Typeflag, e.hdr.Linkname)
		}
	}
	if ms[4].hdr.Typeflag != tar.TypeReg {
		t.Errorf("trailer type %c", ms[4].hdr.Typeflag)
	}
}

func TestPackDir(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(root, "usr/bin/tool"), os.ModeSetuid|0o755))
	must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-alias")))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	must(os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600))
	must(syscall.Mknod(filepath.Join(root, "sock"), syscall.S_IFSOCK|0o600, 0))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(root, "secret"), old, old))

	l := newTestLayout(t)
	var stderr bytes.Buffer
	must(buildRootfs(l, root, compressZstd, "bench/test:latest", &stderr))
	if !strings.Contains(stderr.String(), "sock") {
		t.Errorf("socket not reported as skipped: %q", stderr.String())
	}
	must(l.finish())
	m, cfg := imageOf(t, l, l.refs[0])
	if len(m.Layers) != 1 || m.Layers[0].MediaType != mediaTypeLayerZstd {
		t.Fatalf("layers %+v", m.Layers)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"/bin/sh"}) {
		t.Errorf("Cmd %q", cfg.Config.Cmd)
	}
	ms := layerMembers(t, l, m, 0)
	want := []string{"bin", "fifo", "secret", "tmp/", "usr/", "usr/bin/", "usr/bin/tool", "usr/bin/tool-alias"}
	if got := names(ms); !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	uid, gid := os.Getuid(), os.Getgid()
	for _, e := range ms {
		if e.hdr.Uid != uid || e.hdr.Gid != gid || e.hdr.Uname != "" {
			t.Errorf("%s owner %d:%d %q, want %d:%d", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname, uid, gid)
		}
	}
	check := func(name string, typ byte, mode int64, link string) {
		t.Helper()
		e := find(t, ms, name)
		if e.hdr.Typeflag != typ || e.hdr.Mode != mode || e.hdr.Linkname != link {
			t.Errorf("%s: type %c mode %o link %q; want %c %o %q", name, e.hdr.Typeflag, e.hdr.Mode, e.hdr.Linkname, typ, mode, link)
		}
	}
	check("bin", tar.TypeSymlink, 0o777, "usr/bin")
	check("fifo", tar.TypeFifo, 0o600, "")
	check("tmp/", tar.TypeDir, 0o1777, "")
	check("usr/bin/tool", tar.TypeReg, 0o4755, "")
	check("usr/bin/tool-alias", tar.TypeLink, 0o4755, "usr/bin/tool")
	if e := find(t, ms, "usr/bin/tool"); e.body != "#!/bin/sh\n" {
		t.Errorf("tool body %q", e.body)
	}
	if e := find(t, ms, "secret"); !e.hdr.ModTime.Equal(old) {
		t.Errorf("secret mtime %v, want %v", e.hdr.ModTime, old)
	}
}

func TestOCIArchive(t *testing.T) {
	l := newTestLayout(t)
	if err := buildBusybox(l, fakeBusybox(), compressGzip, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	if err := l.finish(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.tar")
	if err := l.writeArchive(out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range members(t, data) {
		if m.hdr.Typeflag == tar.TypeReg {
			files[m.hdr.Name] = m.body
		}
	}
	if files["oci-layout"] != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", files["oci-layout"])
	}
	var idx index
	if err := json.Unmarshal([]byte(files["index.json"]), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[annotationRefName] != "busybox:latest" {
		t.Fatalf("index.json %s", files["index.json"])
	}
	blob := func(d descriptor) string {
		name := "blobs/sha256/" + strings.TrimPrefix(d.Digest, "sha256:")
		b, ok := files[name]
		if !ok {
			t.Fatalf("archive lacks %s", name)
		}
		if sha256Hex([]byte(b)) != d.Digest {
			t.Fatalf("%s does not match its digest", name)
		}
		return b
	}
	var m manifest
	if err := json.Unmarshal([]byte(blob(idx.Manifests[0])), &m); err != nil {
		t.Fatal(err)
	}
	blob(m.Config)
	for _, ly := range m.Layers {
		blob(ly)
	}
}

func TestRefParsing(t *testing.T) {
	for _, tc := range []struct{ in, host, repo, tag string }{
		{"127.0.0.1:5000/bench/debian:latest", "127.0.0.1:5000", "bench/debian", "latest"},
		{"localhost:5000/bench/debian", "localhost:5000", "bench/debian", "latest"},
		{"reg/a:v1.2-x", "reg", "a", "v1.2-x"},
	} {
		host, repoTag, err := splitPushRef(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		repo, tag, err := splitRepoTag(repoTag)
		if err != nil || host != tc.host || repo != tc.repo || tag != tc.tag {
			t.Errorf("%s: %q %q %q %v", tc.in, host, repo, tag, err)
		}
	}
	for _, bad := range []string{"debian", "127.0.0.1:5000/Bench/debian", "127.0.0.1:5000/bench/debian:", "127.0.0.1:5000/bench//x", "/x"} {
		if _, _, err := splitPushRef(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-registry", "x:1", "-oci-archive", "a.tar"},
		{"-push", "x:1/a:b"},
		{"-rootfs", "/"},
		{"-rootfs", "/", "-push", "x:1/a", "-oci-archive", "a.tar"},
		{"-rootfs", "/", "-push", "x:1/a", "-tag", "a:b"},
		{"-registry", "x:1", "-compress", "zstd"},
		{"-oci-archive", "a.tar", "-compress", "xz"},
		{"-registry", "x:1", "extra"},
		{"-registry", "http://x:1"},
		{"-oci-archive", "a.tar", "-checker", "/bin/true"},
		{"-rootfs", "/", "-oci-archive", "a.tar", "-checker", "/bin/true"},
		{"-oci-archive", "a.tar", "-nettool", "/bin/true"},
		{"-rootfs", "/", "-push", "x:1/a", "-nettool", "/bin/true"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, io.Discard, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

func TestLoadBusybox(t *testing.T) {
	const path = "/bin/busybox"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("LODGER_TEST_REQUIRE_REGISTRY") == "1" {
			t.Fatalf("no %s (Debian package busybox-static), which CI installs", path)
		}
		t.Skipf("no %s (Debian package busybox-static)", path)
	}
	bb, err := loadBusybox(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bb.applets, "sh") || !slices.Contains(bb.applets, "echo") {
		t.Errorf("applets %q", bb.applets)
	}
	// Anything dynamic would have no libc in the image.
	if _, err := loadBusybox("/bin/ls"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("/bin/ls: %v", err)
	}
}

// lockedBuffer collects a child's output, which exec copies in a goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRegistry runs docker-registry on a free loopback port with its
// storage in a temporary directory and returns its host:port.
func startRegistry(t *testing.T, bin string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	yml := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if err := <-exited; t.Failed() {
			t.Logf("docker-registry (%v) output:\n%s", err, logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("docker-registry exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry not ready on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getRegistry(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return resp, body
}

// TestPushToRegistry pushes the whole set, twice to show re-pushing works,
// into a real docker-registry. LODGER_TEST_REQUIRE_REGISTRY=1 (set by
// .ci/run) turns a missing registry or busybox into a failure.
func TestPushToRegistry(t *testing.T) {
	missing := t.Skipf
	if os.Getenv("LODGER_TEST_REQUIRE_REGISTRY") == "1" {
		missing = t.Fatalf
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		missing("docker-registry not installed (Debian package docker-registry): %v", err)
		return
	}
	const bbPath = "/bin/busybox"
	if _, err := os.Stat(bbPath); err != nil {
		missing("no static busybox (Debian package busybox-static): %v", err)
		return
	}
	addr := startRegistry(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var want []string
	// Without -checker and -nettool their images are left out; the rest of the
	// security set is always there.
	for _, r := range []string{"busybox:latest", "busybox:zstd", "busybox:history", "layers:latest", "multiarch:latest", "config:latest", "health:latest", "evil-dotdot:latest", "evil-symlink:latest", "evil-hardlink:latest", "mounts:latest",
		"evil-devsymlink:latest", "evil-devsymlink:etc", "evil-devnull:latest", "evil-devconsole:latest", "evil-devpts:latest",
		"evil-procsymlink:latest", "evil-procsymlink:root", "evil-syssymlink:latest", "evil-masklinks:latest", "evil-etchosts:latest", "evil-passwd-host:latest",
		"evil-passwd-host:shadow", "evil-passwd-fifo:latest", "evil-passwd-zero:latest", "evil-workdir:latest", "cve-trojans:latest", "sparse-bomb:latest"} {
		want = append(want, addr+"/lodger-test/"+r)
	}
	for i := range 2 {
		var stdout, stderr bytes.Buffer
		if err := run(ctx, []string{"-registry", addr, "-busybox", bbPath}, &stdout, &stderr); err != nil {
			t.Fatalf("push %d: %v\n%s", i+1, err, stderr.String())
		}
		if got := strings.Fields(stdout.String()); !slices.Equal(got, want) {
			t.Errorf("push %d printed %q, want %q", i+1, got, want)
		}
	}

	base := "http://" + addr + "/v2/"
	_, body := getRegistry(t, base+"_catalog", "")
	var catalog struct{ Repositories []string }
	if err := json.Unmarshal(body, &catalog); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"busybox", "layers", "multiarch", "config", "evil-dotdot", "evil-symlink", "evil-hardlink"} {
		if !slices.Contains(catalog.Repositories, "lodger-test/"+repo) {
			t.Errorf("catalog %q lacks lodger-test/%s", catalog.Repositories, repo)
		}
	}

	accept := mediaTypeIndex + ", " + mediaTypeManifest
	resp, body := getRegistry(t, base+"lodger-test/multiarch/manifests/latest", accept)
	if ct := resp.Header.Get("Content-Type"); ct != mediaTypeIndex {
		t.Errorf("multiarch served as %q, want %s", ct, mediaTypeIndex)
	}
	var idx index
	if err := json.Unmarshal(body, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Errorf("multiarch index %s: %v", body, err)
	}

	// The zstd layer must arrive as pushed: zstd media type and bytes.
	_, body = getRegistry(t, base+"lodger-test/busybox/manifests/zstd", accept)
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("busybox:zstd manifest %s: %v", body, err)
	}
	if m.Layers[0].MediaType != mediaTypeLayerZstd {
		t.Errorf("busybox:zstd layer is %s", m.Layers[0].MediaType)
	}
	_, blob := getRegistry(t, base+"lodger-test/busybox/blobs/"+m.Layers[0].Digest, "")
	if sha256Hex(blob) != m.Layers[0].Digest || !bytes.HasPrefix(blob, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("busybox:zstd layer blob is not the pushed zstd stream")
	}
}
