//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEvilImages pulls and runs images whose layers try to write outside
// the layer (.. entries, through symlinks, hardlinks to host files). Each
// is pulled: the extractor keeps every entry inside the layer being
// unpacked, where the container finds it, and the host is as it was.
func TestEvilImages(t *testing.T) {
	for _, tc := range []struct {
		image string
		// host paths the image aims at
		targets []string
		// where the entries aimed at the host are in the container, and
		// what they hold (on overlay, the e2e environment's driver)
		inside map[string]string
	}{
		// ".." stops at the layer's root.
		{"evil-dotdot:latest", []string{"/tmp/lodger-evil-dotdot"}, map[string]string{
			"/tmp/lodger-evil-dotdot": "pwned",
		}},
		// The files land in directories of their own layer, which hide
		// the links (to /tmp) of the layer below.
		{"evil-symlink:latest", []string{"/tmp/lodger-evil-symlink", "/tmp/lodger-evil-symlink2"}, map[string]string{
			"/escape/lodger-evil-symlink":   "pwned",
			"/escape2/lodger-evil-symlink2": "pwned",
		}},
		// The links, to ../../../etc/passwd and /etc/shadow, join the
		// layer's own files (tests/imagegen evilHardlinkPasswd and
		// evilHardlinkShadow), not the host's; the file after them is
		// unpacked too.
		{"evil-hardlink:latest", nil, map[string]string{
			"/stolen":  "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nmallory:x:1001:1001:the layer's own passwd:/:/bin/sh\n",
			"/stolen2": "root:*:19000::::::\nmallory:the layer's own shadow:19000::::::\n",
			"/trailer": "after the links\n",
		}},
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

			e.pull(t, image, noTLS)
			for _, p := range slices.Sorted(maps.Keys(tc.inside)) {
				r := e.runRm(t, image, "cat", p)
				if r.code != 0 || r.stdout != tc.inside[p] {
					t.Errorf("%s\nwant %s to hold %q (driver %s)", r, p, tc.inside[p], e.info(t).Storage.Driver)
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
	// A run --rm's layer and staged upper directory are removed in the
	// background after lodger returns: a directory can go while find
	// walks it. Walk again then; only a walk that saw everything counts.
	var out []byte
	var err error
	for try := 0; ; try++ {
		out, err = e.inSession("find", scratch, "-xdev",
			"(", "-name", "lodger-evil*", "-o", "-samefile", "/etc/passwd", "-o", "-samefile", "/etc/shadow", ")", "-print")
		if err == nil || try == 20 || !strings.Contains(err.Error(), "No such file or directory") {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
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
