// Package tarbomb writes the tar streams lodger's unpack-budget tests are
// attacked with (issue 12, finding 4): entries whose few bytes in the
// stream unpack to much more on disk. archive/tar reads them but will not
// write them, so they are put together here block by block.
package tarbomb

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
)

const block = 512

// Sparse returns an uncompressed tar holding one regular file, name, in
// the PAX sparse format 1.0 (what GNU tar --sparse --format=pax writes):
// size bytes long, all of it a hole but for tail at its end. The stream is
// 2.5 KiB plus tail, whatever size is.
func Sparse(name string, size int64, tail []byte) []byte {
	if int64(len(tail)) > size {
		panic("tarbomb: tail longer than the file")
	}
	var b bytes.Buffer
	records := paxRecord("GNU.sparse.major", "1") +
		paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) +
		paxRecord("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	writeHeader(&b, "PaxHeaders.0/"+name, 'x', int64(len(records)))
	writePadded(&b, []byte(records))
	// The data begins with the sparse map: the number of regions, then
	// the offset and length of each, one decimal per line, padded to a
	// block; then the regions' bytes.
	sparseMap := fmt.Sprintf("1\n%d\n%d\n", size-int64(len(tail)), len(tail))
	mapLen := (int64(len(sparseMap)) + block - 1) / block * block
	writeHeader(&b, "GNUSparseFile.0/"+name, '0', mapLen+int64(len(tail)))
	writePadded(&b, []byte(sparseMap))
	writePadded(&b, tail)
	b.Write(make([]byte, 2*block)) // the end of the archive
	return b.Bytes()
}

// paxRecord is "LEN key=value\n", LEN counting itself.
func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest)
	for {
		s := strconv.Itoa(n) + rest
		if len(s) == n {
			return s
		}
		n = len(s)
	}
}

// writeHeader writes a ustar header block.
func writeHeader(b *bytes.Buffer, name string, typeflag byte, size int64) {
	var h [block]byte
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], fmt.Sprintf("%011o\x00", 1704067200)) // 2024-01-01
	h[156] = typeflag
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	b.Write(h[:])
}

func writePadded(b *bytes.Buffer, p []byte) {
	b.Write(p)
	if r := len(p) % block; r != 0 {
		b.Write(make([]byte, block-r))
	}
}

// DockerArchive returns a docker-archive (what docker save writes) of one
// image named repoTag whose layers are the uncompressed tars given.
func DockerArchive(repoTag string, layers ...[]byte) []byte {
	var files []file
	var names, diffIDs []string
	for _, l := range layers {
		d := sha256Hex(l)
		names = append(names, d+"/layer.tar")
		diffIDs = append(diffIDs, "sha256:"+d)
		files = append(files, file{d + "/layer.tar", l})
	}
	cfg := config(diffIDs)
	cfgName := sha256Hex(cfg) + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{repoTag}, "Layers": names}})
	files = append([]file{{"manifest.json", man}, {cfgName, cfg}}, files...)
	return tarOf(files)
}

// OCIArchive returns an oci-archive of one image, its index naming it
// ref, whose layers are the uncompressed tars given.
func OCIArchive(ref string, layers ...[]byte) []byte {
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blob := func(b []byte, mediaType string) (file, desc) {
		d := sha256Hex(b)
		return file{"blobs/sha256/" + d, b}, desc{MediaType: mediaType, Digest: "sha256:" + d, Size: len(b)}
	}
	var files []file
	var layerDescs []desc
	var diffIDs []string
	for _, l := range layers {
		f, d := blob(l, "application/vnd.oci.image.layer.v1.tar")
		files = append(files, f)
		layerDescs = append(layerDescs, d)
		diffIDs = append(diffIDs, d.Digest)
	}
	cfgFile, cfgDesc := blob(config(diffIDs), "application/vnd.oci.image.config.v1+json")
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfgDesc, "layers": layerDescs})
	manFile, manDesc := blob(man, "application/vnd.oci.image.manifest.v1+json")
	manDesc.Annotations = map[string]string{"org.opencontainers.image.ref.name": ref}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []desc{manDesc}})
	files = append([]file{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", index}, cfgFile, manFile}, files...)
	return tarOf(files)
}

// config is an image configuration for amd64 Linux with the given layers.
func config(diffIDs []string) []byte {
	b, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	return b
}

type file struct {
	name string
	data []byte
}

// tarOf is a tar of the files, with the directories their names need.
func tarOf(files []file) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.name); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var sorted []string
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)
	for _, d := range sorted {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755})
	}
	for _, f := range files {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))})
		_, _ = tw.Write(f.data)
	}
	_ = tw.Close()
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
