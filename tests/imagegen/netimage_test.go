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
