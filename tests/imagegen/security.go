package main

import (
	"archive/tar"
	"fmt"
)

// hostPasswd is the host file evil-passwd-host's /etc/passwd links to. The
// end-to-end test plants it on the host with a user the image lacks: a
// runtime that looked the user up through the link, on the host, would
// find that user.
const hostPasswd = "/tmp/lodger-host-passwd"

// checkerInImage is where the checker image holds tests/checker.
const checkerInImage = "usr/local/bin/checker"

func fifoEntry(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: name, Mode: 0o644}}
}

// buildSecuritySet adds the images of the security tests on top of the
// base layer: the checker image (when checker is not nil), images whose
// /dev, /proc, /sys or /etc/passwd aim at host paths or at things a runtime
// must not read, and an image whose working directory is a descriptor of
// the runtime (CVE-2024-21626).
func buildSecuritySet(l *layout, gzBase layer, checker []byte) error {
	image := func(ref string, cfg imageConfig, entries ...entry) error {
		layers := []layer{gzBase}
		if len(entries) > 0 {
			ly, err := l.writeLayer(compressGzip, tarEntries(entries...))
			if err != nil {
				return fmt.Errorf("write layer %s: %w", ref, err)
			}
			layers = append(layers, ly)
		}
		d, err := l.writeImage(cfg, layers)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		l.tag(testRepo+ref, d)
		return nil
	}
	amd64 := baseConfig("amd64")

	if checker != nil {
		cfg := baseConfig("amd64")
		cfg.Config.Cmd = []string{"checker"}
		err := image("checker:latest", cfg,
			dirEntry("usr/local", 0o755),
			dirEntry("usr/local/bin", 0o755),
			fileEntry(checkerInImage, 0o755, checker),
		)
		if err != nil {
			return err
		}
	}

	hostile := []struct {
		ref     string
		entries []entry
	}{
		// The runtime mounts /dev, /proc and /sys: through these links a
		// runtime resolving on the host would mount over the host's /tmp,
		// /etc or /, or create its device files there.
		{"evil-devsymlink:latest", []entry{symlinkEntry("dev", "/tmp")}},
		{"evil-devsymlink:etc", []entry{symlinkEntry("dev", "/etc")}},
		// CVE-2025-31133: a runtime that bind-mounts the container's
		// /dev/null over masked paths would expose core_pattern writable.
		{"evil-devnull:latest", []entry{dirEntry("dev", 0o755), symlinkEntry("dev/null", "/proc/sys/kernel/core_pattern")}},
		// CVE-2025-52565: the console bind-mounted onto a link target.
		{"evil-devconsole:latest", []entry{dirEntry("dev", 0o755), symlinkEntry("dev/console", "/proc/sysrq-trigger")}},
		{"evil-devpts:latest", []entry{dirEntry("dev", 0o755), symlinkEntry("dev/pts", "/proc")}},
		{"evil-procsymlink:latest", []entry{symlinkEntry("proc", "/sys")}},
		{"evil-procsymlink:root", []entry{symlinkEntry("proc", "/")}},
		{"evil-syssymlink:latest", []entry{symlinkEntry("sys", "/proc")}},
		// Links where the runtime's masked and read-only paths are, hidden
		// once /proc and /sys are mounted: a runtime resolving those paths
		// in the image before mounting would mask or protect the link
		// targets and leave the kernel's files open.
		{"evil-masklinks:latest", []entry{
			dirEntry("proc", 0o755),
			symlinkEntry("proc/acpi", "/decoy-acpi"),
			symlinkEntry("proc/keys", "/decoy-keys"),
			symlinkEntry("proc/sys", "/tmp"),
			dirEntry("sys", 0o755),
			symlinkEntry("sys/firmware", "/decoy-firmware"),
		}},
		// The runtime binds its /etc/hosts over the image's: through this
		// link, over a kernel file.
		{"evil-etchosts:latest", []entry{symlinkEntry("etc/hosts", "/proc/sys/kernel/core_pattern")}},
		// User lookups must read the image's files, never the host's.
		{"evil-passwd-host:latest", []entry{symlinkEntry("etc/passwd", hostPasswd)}},
		{"evil-passwd-host:shadow", []entry{symlinkEntry("etc/passwd", "/etc/shadow")}},
		// A FIFO or an endless device would hang or exhaust a reader.
		{"evil-passwd-fifo:latest", []entry{fifoEntry("etc/passwd"), fifoEntry("etc/group")}},
		{"evil-passwd-zero:latest", []entry{symlinkEntry("etc/passwd", "/dev/zero"), symlinkEntry("etc/group", "/dev/zero")}},
	}
	for _, h := range hostile {
		if err := image(h.ref, amd64, h.entries...); err != nil {
			return err
		}
	}

	// CVE-2024-21626: a working directory that is an inherited descriptor
	// of the runtime leaves the process a path to the host's tree.
	cfg := baseConfig("amd64")
	cfg.Config.WorkingDir = "/proc/self/fd/4"
	return image("evil-workdir:latest", cfg)
}
