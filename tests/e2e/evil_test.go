//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEvilImages pulls and runs images whose layers try to write outside
// the layer (.. entries, through symlinks, hardlinks to host files). Each
// must either fail cleanly or stay confined to its rootfs.
func TestEvilImages(t *testing.T) {
	for _, tc := range []struct {
		image string
		// host paths the image aims at
		targets []string
	}{
		{"evil-dotdot:latest", []string{"/tmp/lodger-evil-dotdot"}},
		{"evil-symlink:latest", []string{"/tmp/lodger-evil-symlink", "/tmp/lodger-evil-symlink2"}},
		{"evil-hardlink:latest", nil},
	} {
		t.Run(strings.TrimSuffix(tc.image, ":latest"), func(t *testing.T) {
			for _, p := range tc.targets {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s exists before the test: an earlier run escaped, or someone else made it; remove it (as root) and rerun", p)
				}
			}
			passwd := fileSum(t, "/etc/passwd")
			e := isolatedEnv(t)
			image := ref(tc.image)

			r := e.lodger(t, "pull", "-q", noTLS, image)
			if r.code != 0 {
				t.Logf("pull refused the image (fine):\n%s", r)
				wantError(t, r, 1)
				for _, row := range e.images(t) {
					if slices.Contains(row.Names, image) {
						t.Errorf("images lists %s after its pull failed: %+v", image, row)
					}
				}
				if n := e.info(t).Storage.Images; n != 0 {
					t.Errorf("info: %d images in storage after a failed pull into an empty store, want 0", n)
				}
			} else {
				t.Logf("pull accepted the image; checking it is confined")
				r := e.runRm(t, image, "sh", "-c", "ls / && find / -xdev -name 'lodger-evil*'")
				wantCode(t, r, 0)
				t.Logf("inside the container:\n%s", r.stdout)
				if tc.image == "evil-hardlink:latest" {
					host, err := os.ReadFile("/etc/passwd")
					if err != nil {
						t.Fatal(err)
					}
					r := e.runRm(t, image, "cat", "/stolen")
					if r.code == 0 && r.stdout == string(host) {
						t.Errorf("%s\n/stolen in the container is the host's /etc/passwd", r)
					}
					wantStdout(t, e.runRm(t, image, "cat", "/trailer"), "after the links\n")
				}
			}

			for _, p := range tc.targets {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s pulled/run created %s on the host", tc.image, p)
				}
			}
			if got := fileSum(t, "/etc/passwd"); !bytes.Equal(got, passwd) {
				t.Errorf("the host's /etc/passwd changed")
			}
			wantConfined(t, e)
		})
	}
}

func fileSum(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}

// wantConfined looks, as root of the session namespace (so that files of
// subordinate ids are visible), through everything the suite created, and
// at the top of /tmp, for files the evil layers aimed at: their names may
// only appear inside a layer's own tree, and no file may be a hardlink of
// the host's /etc/passwd or /etc/shadow.
func wantConfined(t *testing.T, e *env) {
	t.Helper()
	graphRoot := e.info(t).Storage.GraphRoot
	out, err := e.inSession("find", scratch, "-xdev",
		"(", "-name", "lodger-evil*", "-o", "-samefile", "/etc/passwd", "-o", "-samefile", "/etc/shadow", ")", "-print")
	if err != nil {
		t.Errorf("look through %s: %v", scratch, err)
	}
	inLayer := regexp.MustCompile(`^` + regexp.QuoteMeta(graphRoot) + `/(overlay/[0-9a-f]{64}/diff|vfs/dir/[0-9a-f]{64})/`)
	found := lines(string(out))
	tmp, _ := os.ReadDir("/tmp")
	for _, d := range tmp {
		if strings.HasPrefix(d.Name(), "lodger-evil") {
			found = append(found, "/tmp/"+d.Name())
		}
	}
	for _, p := range found {
		if inLayer.MatchString(p) && strings.Contains(p, "lodger-evil") {
			continue
		}
		if same(p, "/etc/passwd") {
			t.Errorf("%s is a hardlink of the host's /etc/passwd", p)
			continue
		}
		t.Errorf("%s is outside any layer's tree (or links a host file)", p)
	}
}

func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
