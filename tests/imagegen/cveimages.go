package main

import (
	"fmt"
	"path"
)

// trojanScript is every trojan of cve-trojans:latest: run by anything, in
// or out of a container, it leaves /tmp/lodger-cve-2022-1227<its path with
// "/" as "-"> saying who ran it with which privileges, and fails.
const trojanScript = `#!/bin/sh
m=/tmp/lodger-cve-2022-1227$(echo "$0" | tr / -)
{ echo "ran $0 $*"; id; grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; } >"$m" 2>&1
exit 1
`

// trojanTemplate is where cve-trojans:latest keeps a copy of the trojan
// for tests to plant at paths only known when they run (the path of the
// lodger binary on the host, say).
const trojanTemplate = "usr/local/lib/lodger-trojan"

// trojanPaths are the tools a runtime might be tempted to run, each
// shadowed by a trojan in cve-trojans:latest (CVE-2022-1227: podman top
// ran a binary of the image, found at its own path, with the runtime's
// privileges). /bin/sh stays busybox.
var trojanPaths = []string{
	"bin/mount",
	"bin/umount",
	"sbin/iptables",
	"sbin/ip",
	"sbin/modprobe",
	"usr/bin/catatonit",
	"usr/bin/fuse-overlayfs",
	"usr/bin/lodger",
	"usr/bin/newgidmap",
	"usr/bin/newuidmap",
	"usr/bin/nsenter",
	"usr/bin/pasta",
	"usr/bin/rootlesskit",
	"usr/bin/slirp4netns",
	"usr/bin/tini",
	"usr/bin/unshare",
	"usr/local/bin/lodger",
	"usr/sbin/iptables",
}

// buildCVEImages adds cve-trojans:latest on top of the base layer.
func buildCVEImages(l *layout, gzBase layer) error {
	dirs := map[string]bool{}
	var entries []entry
	for _, p := range append([]string{trojanTemplate}, trojanPaths...) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		entries = append(entries, fileEntry(p, 0o755, []byte(trojanScript)))
	}
	for d := range dirs {
		entries = append(entries, dirEntry(d, 0o755))
	}
	ly, err := l.writeLayer(compressGzip, tarEntries(entries...))
	if err != nil {
		return fmt.Errorf("write layer cve-trojans: %w", err)
	}
	d, err := l.writeImage(baseConfig("amd64"), []layer{gzBase, ly})
	if err != nil {
		return fmt.Errorf("image cve-trojans:latest: %w", err)
	}
	l.tag(testRepo+"cve-trojans:latest", d)
	return nil
}
