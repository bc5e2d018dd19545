package main

import (
	"archive/tar"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNetImage(t *testing.T) {
	l, refs := testSet(t)
	m, cfg := imageOf(t, l, refs["lodger-test/net:latest"])
	if diff := cmp.Diff(map[string]struct{}{"8080/tcp": {}, "9090/udp": {}}, cfg.Config.ExposedPorts); diff != "" {
		t.Errorf("ExposedPorts (-want +got):\n%s", diff)
	}
	if len(m.Layers) != 2 {
		t.Fatalf("%d layers, want the base and nettool", len(m.Layers))
	}
	e := find(t, layerMembers(t, l, m, 1), nettoolInImage)
	if e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != 0o755 || e.body != string(fakeNettool) {
		t.Errorf("nettool: type %c mode %o body %q", e.hdr.Typeflag, e.hdr.Mode, e.body)
	}

	t.Run("left out without -nettool", func(t *testing.T) {
		l := newTestLayout(t)
		if err := buildTestSet(l, fakeBusybox(), fakeChecker, nil); err != nil {
			t.Fatal(err)
		}
		for _, d := range l.refs {
			if d.Annotations[annotationRefName] == "lodger-test/net:latest" {
				t.Error("net:latest built without a nettool binary")
			}
		}
	})
}

// The getent image carries what the host's getent loads: its
// interpreter, libc, and the NSS modules for hosts: files dns.
func TestGetentEntries(t *testing.T) {
	const getent = "/usr/bin/getent"
	entries, err := getentEntries(getent)
	if err != nil {
		t.Fatal(err)
	}
	interp, err := interpreter(getent)
	if err != nil || interp == "" {
		t.Fatalf("interpreter of %s: %q %v", getent, interp, err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.hdr.Name] = true
	}
	for _, want := range []string{"usr/bin/getent", interp[1:], libInImage + "libc.so.6", libInImage + "libnss_dns.so.2", libInImage + "libnss_files.so.2", "etc/nsswitch.conf"} {
		if !names[want] {
			t.Errorf("the getent layer has no %s", want)
		}
	}
}
