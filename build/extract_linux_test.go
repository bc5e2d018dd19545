package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestUnpackContextHostile is written as the attacker: a context tarball
// (downloaded, piped into lodger build -) whose entries reach out of the
// directory it is unpacked in, through a symlink it plants first or with
// ../ in a name.
func TestUnpackContextHostile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	for name, entries := range map[string][]tar.Header{
		"symlink then write through it": {
			{Name: "a", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "a/planted", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
		},
		"relative symlink out": {
			{Name: "b", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../../" + outside},
			{Name: "b/planted", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
		},
		"dotdot": {
			{Name: "../../../../../../../../" + outside + "/planted", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
		},
		"hardlink to a file outside": {
			{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../../../../../../" + outside + "/victim"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			// A directory of its own for each case, at the path the
			// entries name.
			os.RemoveAll(outside)
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("victim"), 0o600); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range entries {
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Size > 0 {
					if _, err := tw.Write([]byte("EVIL!")); err != nil {
						t.Fatal(err)
					}
				}
			}
			tw.Close()
			dir, _, err := unpackContext(&buf)
			if dir != "" {
				defer os.RemoveAll(dir)
			}
			if _, serr := os.Lstat(filepath.Join(outside, "planted")); serr == nil {
				t.Fatalf("the archive wrote outside its directory (unpack error: %v)", err)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "victim" {
				t.Fatalf("the archive changed a file outside its directory: %q", b)
			}
			if err == nil {
				// Refused or written inside: either is safe. Inside, a
				// hard link to the outside must not exist.
				if fi, err := os.Lstat(filepath.Join(dir, "h")); err == nil && fi.Mode().IsRegular() {
					t.Error("a hard link to a file outside the directory was made")
				}
			}
		})
	}
}
