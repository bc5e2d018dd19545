package main

import (
	"archive/tar"
	"bytes"
	"testing"
)

// TestSparseBomb checks the attack the unpack budget is tested with: a
// layer of a few KiB whose one file, to archive/tar as to storage, is 256
// MiB long.
func TestSparseBomb(t *testing.T) {
	l, refs := testSet(t)
	m, cfg := imageOf(t, l, refs["lodger-test/sparse-bomb:latest"])
	if len(m.Layers) != 2 || len(cfg.RootFS.DiffIDs) != 2 {
		t.Fatalf("sparse-bomb has %d layers, %d diff_ids; want the base and the bomb", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	if m.Layers[1].Size > 4<<10 {
		t.Errorf("the bomb's layer blob is %d bytes, want a few KiB", m.Layers[1].Size)
	}
	tr := tar.NewReader(bytes.NewReader(uncompressed(t, l, m.Layers[1])))
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "bomb" || hdr.Size != sparseBombSize || hdr.Typeflag != tar.TypeReg {
		t.Errorf("the bomb's entry is %q, %d bytes, type %c; want bomb, %d bytes, a regular file", hdr.Name, hdr.Size, hdr.Typeflag, sparseBombSize)
	}
}
