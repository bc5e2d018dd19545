package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/lodger-containers/lodger/tests/tarbomb"
)

// sparseBombSize is what sparse-bomb:latest's one file unpacks to; its
// layer is a few KiB (issue 12, finding 4: the budget counted the tar
// stream, and this went through a 64 MiB budget).
const sparseBombSize = 256 << 20

// buildBudgetImages adds sparse-bomb:latest: the base layer and a layer
// holding one PAX sparse 1.0 file, /bomb, of sparseBombSize bytes.
func buildBudgetImages(l *layout, gzBase layer) error {
	bomb, err := l.writeRawLayer(compressGzip, tarbomb.Sparse("bomb", sparseBombSize, []byte("the end of the hole\n")))
	if err != nil {
		return fmt.Errorf("write layer sparse-bomb: %w", err)
	}
	d, err := l.writeImage(baseConfig("amd64"), []layer{gzBase, bomb})
	if err != nil {
		return fmt.Errorf("image sparse-bomb:latest: %w", err)
	}
	l.tag(testRepo+"sparse-bomb:latest", d)
	return nil
}

// writeRawLayer stores tarData, a tar put together by hand (archive/tar
// writes no sparse files), compressed, as a layer.
func (l *layout) writeRawLayer(comp compression, tarData []byte) (layer, error) {
	var blob bytes.Buffer
	zw, err := comp.newWriter(&blob)
	if err != nil {
		return layer{}, err
	}
	if _, err := zw.Write(tarData); err != nil {
		return layer{}, err
	}
	if err := zw.Close(); err != nil {
		return layer{}, err
	}
	desc, err := l.writeBlob(comp.mediaType(), blob.Bytes())
	if err != nil {
		return layer{}, err
	}
	diffID := sha256.Sum256(tarData)
	return layer{desc: desc, diffID: "sha256:" + hex.EncodeToString(diffID[:])}, nil
}
