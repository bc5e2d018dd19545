package main

import (
	"archive/tar"
	"slices"
	"testing"
)

func TestCheckerImage(t *testing.T) {
	l, refs := testSet(t)
	m, cfg := imageOf(t, l, refs["lodger-test/checker:latest"])
	if !slices.Equal(cfg.Config.Cmd, []string{"checker"}) {
		t.Errorf("Cmd %q, want [checker]", cfg.Config.Cmd)
	}
	if len(m.Layers) != 2 {
		t.Fatalf("%d layers, want the base and the checker", len(m.Layers))
	}
	e := find(t, layerMembers(t, l, m, 1), "usr/local/bin/checker")
	if e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != 0o755 || e.body != string(fakeChecker) {
		t.Errorf("checker: type %c mode %o body %q", e.hdr.Typeflag, e.hdr.Mode, e.body)
	}

	t.Run("left out without -checker", func(t *testing.T) {
		l := newTestLayout(t)
		if err := buildTestSet(l, fakeBusybox(), nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, d := range l.refs {
			if d.Annotations[annotationRefName] == "lodger-test/checker:latest" {
				t.Error("checker:latest built without a checker binary")
			}
		}
	})
}

func TestSecurityImages(t *testing.T) {
	l, refs := testSet(t)
	type want struct {
		name   string
		typ    byte
		target string
	}
	for ref, entries := range map[string][]want{
		"evil-devsymlink:latest":  {{"dev", tar.TypeSymlink, "/tmp"}},
		"evil-devsymlink:etc":     {{"dev", tar.TypeSymlink, "/etc"}},
		"evil-devnull:latest":     {{"dev/", tar.TypeDir, ""}, {"dev/null", tar.TypeSymlink, "/proc/sys/kernel/core_pattern"}},
		"evil-devconsole:latest":  {{"dev/", tar.TypeDir, ""}, {"dev/console", tar.TypeSymlink, "/proc/sysrq-trigger"}},
		"evil-devpts:latest":      {{"dev/", tar.TypeDir, ""}, {"dev/pts", tar.TypeSymlink, "/proc"}},
		"evil-procsymlink:latest": {{"proc", tar.TypeSymlink, "/sys"}},
		"evil-procsymlink:root":   {{"proc", tar.TypeSymlink, "/"}},
		"evil-syssymlink:latest":  {{"sys", tar.TypeSymlink, "/proc"}},
		"evil-masklinks:latest": {
			{"proc/", tar.TypeDir, ""}, {"proc/acpi", tar.TypeSymlink, "/decoy-acpi"}, {"proc/keys", tar.TypeSymlink, "/decoy-keys"},
			{"proc/sys", tar.TypeSymlink, "/tmp"}, {"sys/", tar.TypeDir, ""}, {"sys/firmware", tar.TypeSymlink, "/decoy-firmware"},
		},
		"evil-etchosts:latest":    {{"etc/hosts", tar.TypeSymlink, "/proc/sys/kernel/core_pattern"}},
		"evil-passwd-host:latest": {{"etc/passwd", tar.TypeSymlink, hostPasswd}},
		"evil-passwd-host:shadow": {{"etc/passwd", tar.TypeSymlink, "/etc/shadow"}},
		"evil-passwd-fifo:latest": {{"etc/group", tar.TypeFifo, ""}, {"etc/passwd", tar.TypeFifo, ""}},
		"evil-passwd-zero:latest": {{"etc/group", tar.TypeSymlink, "/dev/zero"}, {"etc/passwd", tar.TypeSymlink, "/dev/zero"}},
	} {
		t.Run(ref, func(t *testing.T) {
			d, ok := refs["lodger-test/"+ref]
			if !ok {
				t.Fatalf("no image %s", ref)
			}
			m, _ := imageOf(t, l, d)
			if len(m.Layers) != 2 {
				t.Fatalf("%d layers, want the base and one hostile layer", len(m.Layers))
			}
			ms := layerMembers(t, l, m, 1)
			if len(ms) != len(entries) {
				t.Fatalf("hostile layer %q, want %d entries", names(ms), len(entries))
			}
			for i, w := range entries {
				h := ms[i].hdr
				if h.Name != w.name || h.Typeflag != w.typ || h.Linkname != w.target {
					t.Errorf("entry %d: %s type %c -> %q; want %s type %c -> %q", i, h.Name, h.Typeflag, h.Linkname, w.name, w.typ, w.target)
				}
			}
		})
	}
	t.Run("evil-workdir:latest", func(t *testing.T) {
		m, cfg := imageOf(t, l, refs["lodger-test/evil-workdir:latest"])
		if cfg.Config.WorkingDir != "/proc/self/fd/4" || len(m.Layers) != 1 {
			t.Errorf("WorkingDir %q, %d layers; want /proc/self/fd/4 on the base layer alone", cfg.Config.WorkingDir, len(m.Layers))
		}
	})
}
