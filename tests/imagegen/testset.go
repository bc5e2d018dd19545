package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const passwd = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
`

// evil-hardlink's own passwd and shadow, the targets its links must get
// (tests/e2e TestEvilImages looks for these lines).
const (
	evilHardlinkPasswd = passwd + "mallory:x:1001:1001:the layer's own passwd:/:/bin/sh\n"
	evilHardlinkShadow = "root:*:19000::::::\nmallory:the layer's own shadow:19000::::::\n"
)

const group = `root:x:0:
staff:x:50:alice
audio:x:29:alice
alice:x:1000:
nogroup:x:65534:
`

// busybox is the binary put into every base layer and the applets it
// provides, each of which becomes a symlink in /bin.
type busybox struct {
	data    []byte
	applets []string
}

// loadBusybox reads the binary and asks it for its applet list.
func loadBusybox(path string) (busybox, error) {
	data, err := loadStatic("busybox", path)
	if err != nil {
		return busybox{}, err
	}
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return busybox{}, fmt.Errorf("list busybox applets: %w", err)
	}
	return busybox{data: data, applets: strings.Fields(string(out))}, nil
}

// loadStatic reads a binary to put into the images. They claim amd64 and
// have no libc, so anything but a static x86-64 ELF would only fail later,
// inside a container.
func loadStatic(what, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("%s %s is %v, want x86-64", what, path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s %s is dynamically linked", what, path)
		}
	}
	return data, nil
}

// entry is one tar member of a generated layer.
type entry struct {
	hdr  tar.Header
	body []byte
}

func dirEntry(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}}
}

func fileEntry(name string, mode int64, body []byte) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func textEntry(name, body string) entry {
	return fileEntry(name, 0o644, []byte(body))
}

func symlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func ownedBy(e entry, uid, gid int) entry {
	e.hdr.Uid, e.hdr.Gid = uid, gid
	return e
}

// pathKey orders names component by component, so a directory is followed
// by its whole subtree before any sibling whose name merely extends it
// ("bin/" < "bin/sh" < "bin-x"), the order a recursive walk produces.
func pathKey(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, "/"), "/", "\x00")
}

// tarEntries returns a layer filler writing entries in pathKey order with a
// fixed mtime, so the same entries always give the same layer.
func tarEntries(entries ...entry) func(*tar.Writer) error {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b entry) int {
		return strings.Compare(pathKey(a.hdr.Name), pathKey(b.hdr.Name))
	})
	return func(tw *tar.Writer) error {
		for _, e := range sorted {
			hdr := e.hdr
			hdr.ModTime = epoch
			if err := tw.WriteHeader(&hdr); err != nil {
				return fmt.Errorf("write %s: %w", hdr.Name, err)
			}
			if _, err := tw.Write(e.body); err != nil {
				return fmt.Errorf("write %s: %w", hdr.Name, err)
			}
		}
		return nil
	}
}

func baseEntries(bb busybox) []entry {
	entries := []entry{
		dirEntry("bin", 0o755),
		fileEntry("bin/busybox", 0o755, bb.data),
		dirEntry("etc", 0o755),
		textEntry("etc/passwd", passwd),
		textEntry("etc/group", group),
		dirEntry("home", 0o755),
		ownedBy(dirEntry("home/alice", 0o755), 1000, 1000),
		dirEntry("root", 0o700),
		dirEntry("tmp", 0o1777),
		dirEntry("usr", 0o755),
		dirEntry("usr/bin", 0o755),
		dirEntry("var", 0o755),
	}
	links := map[string]bool{"sh": true}
	for _, a := range bb.applets {
		if a != "busybox" && a != "." && a != ".." && !strings.Contains(a, "/") {
			links[a] = true
		}
	}
	for a := range links {
		entries = append(entries, symlinkEntry("bin/"+a, "busybox"))
	}
	return entries
}

func baseConfig(arch string) imageConfig {
	return imageConfig{
		Created:      epoch,
		Architecture: arch,
		OS:           "linux",
		Config: containerConfig{
			Env: []string{pathEnv, "IMAGE_VAR=from-image"},
			Cmd: []string{"sh"},
		},
	}
}

// testRepo is the registry namespace of the test set.
const testRepo = "lodger-test/"

// buildTestSet writes every test image into l and tags each with its
// repository:tag below the registry. checker and nettool are the
// tests/checker and tests/nettool binaries, or nil to leave their images
// out.
func buildTestSet(l *layout, bb busybox, checker, nettool []byte) error {
	base := tarEntries(baseEntries(bb)...)
	gzBase, err := l.writeLayer(compressGzip, base)
	if err != nil {
		return fmt.Errorf("write layer base: %w", err)
	}
	zstdBase, err := l.writeLayer(compressZstd, base)
	if err != nil {
		return fmt.Errorf("write layer base-zstd: %w", err)
	}
	extra := func(name string, entries ...entry) (layer, error) {
		ly, err := l.writeLayer(compressGzip, tarEntries(entries...))
		if err != nil {
			return layer{}, fmt.Errorf("write layer %s: %w", name, err)
		}
		return ly, nil
	}
	image := func(ref string, cfg imageConfig, layers ...layer) error {
		d, err := l.writeImage(cfg, layers)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		l.tag(testRepo+ref, d)
		return nil
	}
	amd64 := baseConfig("amd64")

	if err := image("busybox:latest", amd64, gzBase); err != nil {
		return err
	}
	if err := image("busybox:zstd", amd64, zstdBase); err != nil {
		return err
	}
	// The same with a history entry for its layer, as every builder
	// writes one: buildah 1.28 cannot build FROM an image without
	// (its own steps' history then lists fewer layers than it has, and it
	// fails with "history lists 2 non-empty layers, but we have 3"), so
	// the build comparisons with buildah start from this one.
	withHistory := amd64
	withHistory.History = []history{{Created: epoch, CreatedBy: "imagegen: the busybox base layer"}}
	if err := image("busybox:history", withHistory, gzBase); err != nil {
		return err
	}

	populate, err := extra("populate",
		dirEntry("data", 0o755),
		textEntry("data/keep", "keep\n"),
		textEntry("data/gone", "gone\n"),
		dirEntry("opq", 0o755),
		textEntry("opq/old", "old\n"),
		dirEntry("opq/sub", 0o755),
		textEntry("opq/sub/old2", "old2\n"),
	)
	if err != nil {
		return err
	}
	// Whiteouts are named as in the OCI layer spec: ".wh." plus the
	// removed name, and ".wh..wh..opq" inside a directory to hide all
	// of its lower content. The opaque marker sorts before "new", as
	// the spec asks of whiteouts and their siblings.
	whiteouts, err := extra("whiteouts",
		dirEntry("data", 0o755),
		textEntry("data/.wh.gone", ""),
		dirEntry("opq", 0o755),
		textEntry("opq/.wh..wh..opq", ""),
		textEntry("opq/new", "new\n"),
	)
	if err != nil {
		return err
	}
	if err := image("layers:latest", amd64, gzBase, populate, whiteouts); err != nil {
		return err
	}

	if err := buildMultiarch(l, gzBase); err != nil {
		return err
	}

	cfg := baseConfig("amd64")
	cfg.Config.Entrypoint = []string{"/bin/echo", "entry"}
	cfg.Config.Cmd = []string{"default-arg"}
	cfg.Config.WorkingDir = "/does/not/exist/yet"
	cfg.Config.User = "alice"
	cfg.Config.Env = append(cfg.Config.Env, "GREETING=hello from image")
	if err := image("config:latest", cfg, gzBase); err != nil {
		return err
	}

	// A Dockerfile's HEALTHCHECK --interval=300ms --retries=2 CMD test -e
	// /tmp/healthy, and EXPOSE 8080 9090/udp, as docker build writes them.
	health := baseConfig("amd64")
	health.Config.Healthcheck = &healthConfig{Test: []string{"CMD-SHELL", "test -e /tmp/healthy"},
		Interval: 300 * time.Millisecond, Retries: 2}
	health.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "9090/udp": {}}
	if err := image("health:latest", health, gzBase); err != nil {
		return err
	}

	dotdot, err := extra("evil-dotdot",
		textEntry("../../../../../../tmp/lodger-evil-dotdot", "pwned"),
	)
	if err != nil {
		return err
	}
	if err := image("evil-dotdot:latest", amd64, gzBase, dotdot); err != nil {
		return err
	}

	links, err := extra("evil-symlinks",
		symlinkEntry("escape", "/tmp"),
		symlinkEntry("escape2", "../../../../../../../../tmp"),
	)
	if err != nil {
		return err
	}
	through, err := extra("evil-through-symlinks",
		textEntry("escape/lodger-evil-symlink", "pwned"),
		textEntry("escape2/lodger-evil-symlink2", "pwned"),
	)
	if err != nil {
		return err
	}
	if err := image("evil-symlink:latest", amd64, gzBase, links, through); err != nil {
		return err
	}

	// The regular file sorts after the links, so an extractor that skips a
	// bad link rather than aborting still has to handle what follows. The
	// layer has a passwd and shadow of its own, which sort first: an
	// extractor confined to the layer links those, one that resolves
	// the names on the host links the host's; without them a confined
	// extractor fails (the layer has no etc/passwd to link) and nothing
	// after the links is ever checked.
	hardlinks, err := extra("evil-hardlinks",
		textEntry("etc/passwd", evilHardlinkPasswd),
		textEntry("etc/shadow", evilHardlinkShadow),
		hardlinkEntry("stolen", "../../../../../../../../etc/passwd"),
		hardlinkEntry("stolen2", "/etc/shadow"),
		textEntry("trailer", "after the links\n"),
	)
	if err != nil {
		return err
	}
	if err := image("evil-hardlink:latest", amd64, gzBase, hardlinks); err != nil {
		return err
	}
	if err := buildVolumeImages(l, gzBase); err != nil {
		return err
	}
	if err := buildSecuritySet(l, gzBase, checker); err != nil {
		return err
	}
	if err := buildNetImage(l, gzBase, nettool); err != nil {
		return err
	}
	if err := buildCVEImages(l, gzBase); err != nil {
		return err
	}
	return buildBudgetImages(l, gzBase)
}

func buildMultiarch(l *layout, gzBase layer) error {
	archLayer := func(arch string) (layer, error) {
		ly, err := l.writeLayer(compressGzip, tarEntries(textEntry("arch", arch+"\n")))
		if err != nil {
			return layer{}, fmt.Errorf("write layer arch-%s: %w", arch, err)
		}
		return ly, nil
	}
	amd64Arch, err := archLayer("amd64")
	if err != nil {
		return err
	}
	arm64Arch, err := archLayer("arm64")
	if err != nil {
		return err
	}
	amd64, err := l.writeImage(baseConfig("amd64"), []layer{gzBase, amd64Arch})
	if err != nil {
		return fmt.Errorf("image multiarch amd64: %w", err)
	}
	amd64.Platform = &platform{Architecture: "amd64", OS: "linux"}
	arm64, err := l.writeImage(baseConfig("arm64"), []layer{arm64Arch})
	if err != nil {
		return fmt.Errorf("image multiarch arm64: %w", err)
	}
	arm64.Platform = &platform{Architecture: "arm64", OS: "linux"}
	idx, err := l.writeIndex([]descriptor{amd64, arm64})
	if err != nil {
		return fmt.Errorf("image multiarch: %w", err)
	}
	l.tag(testRepo+"multiarch:latest", idx)
	return nil
}

// buildBusybox writes just the basic busybox image, for the oci-archive.
func buildBusybox(l *layout, bb busybox, comp compression, name string) error {
	ly, err := l.writeLayer(comp, tarEntries(baseEntries(bb)...))
	if err != nil {
		return fmt.Errorf("write layer base: %w", err)
	}
	d, err := l.writeImage(baseConfig("amd64"), []layer{ly})
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	l.tag(name, d)
	return nil
}
