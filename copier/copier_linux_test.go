package copier

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestSplitLast(t *testing.T) {
	tests := []struct{ in, dir, base string }{
		{"/", "/", "."},
		{"//", "/", "."},
		{"/etc", "/", "etc"},
		{"/etc/", "/", "etc"},
		{"/etc/passwd", "/etc", "passwd"},
		{"a", ".", "a"},
		{"a/b/", "a", "b"},
		{"a/.", "a", "."},
		{"", ".", "."},
	}
	for _, tt := range tests {
		dir, base := splitLast(tt.in)
		if dir != tt.dir || base != tt.base {
			t.Errorf("splitLast(%q) = %q, %q; want %q, %q", tt.in, dir, base, tt.dir, tt.base)
		}
	}
}

func TestArchiveEntryName(t *testing.T) {
	for in, want := range map[string]string{"a/b": "a/b", "./a/": "a", "/etc/x": "etc/x", "a/../b": "b", ".": ".", "a/..": "."} {
		if got, err := archiveEntryName(in); err != nil || got != want {
			t.Errorf("archiveEntryName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x"} {
		if _, err := archiveEntryName(bad); err == nil {
			t.Errorf("archiveEntryName(%q) accepted", bad)
		}
	}
}

// fakeRoot is a container root filesystem in a temporary directory, with
// symlinks that lead out of it when resolved on the host, and a host
// directory beside it that must stay untouched.
type fakeRoot struct {
	root, host string
	end        Root
}

func newFakeRoot(t *testing.T) *fakeRoot {
	t.Helper()
	top := t.TempDir()
	f := &fakeRoot{root: filepath.Join(top, "rootfs"), host: filepath.Join(top, "host")}
	for _, d := range []string{f.root, f.host, f.root + "/etc", f.root + "/dir/sub"} {
		mustDo(t, os.MkdirAll(d, 0o755))
	}
	mustDo(t, os.WriteFile(f.root+"/etc/passwd", []byte("container\n"), 0o644))
	mustDo(t, os.WriteFile(f.root+"/dir/file", []byte("file\n"), 0o640))
	mustDo(t, os.WriteFile(f.root+"/dir/sub/deep", []byte("deep\n"), 0o600))
	mustDo(t, os.Link(f.root+"/dir/file", f.root+"/dir/hardlink"))
	mustDo(t, os.Symlink("/etc/passwd", f.root+"/dir/link"))
	mustDo(t, os.Symlink("/", f.root+"/abs"))
	mustDo(t, os.Symlink("../../../../../../../..", f.root+"/up"))
	mustDo(t, os.Symlink(f.host, f.root+"/hostdir"))
	mustDo(t, os.WriteFile(f.host+"/secret", []byte("host\n"), 0o644))
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	mustDo(t, os.Chtimes(f.root+"/dir/file", old, old))
	mustDo(t, os.Chtimes(f.root+"/dir/sub", old, old))
	r, err := os.OpenFile(f.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	mustDo(t, err)
	t.Cleanup(func() { r.Close() })
	f.end = Root{Dir: r, Name: "ctr"}
	return f
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// noChown leaves owners to the creator: the tests run unprivileged.
var noChown = func(*tar.Header) (int, int, bool) { return 0, 0, false }

// identity maps ids to themselves.
func identity(uid, gid int) (int, int) { return uid, gid }

func (f *fakeRoot) copyOut(src string, follow bool, dst string) error {
	s, err := openSource(f.end, src, follow)
	if err != nil {
		return err
	}
	defer s.h.Close()
	return copyTree(s, Host{}, dst, identity, &extractor{owner: noChown})
}

func (f *fakeRoot) copyIn(src, dst string) error {
	s, err := openSource(Host{}, src, false)
	if err != nil {
		return err
	}
	defer s.h.Close()
	return copyTree(s, f.end, dst, identity, &extractor{owner: noChown})
}

// hostUntouched fails t if the host directory holds anything but secret.
func (f *fakeRoot) hostUntouched(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(f.host)
	mustDo(t, err)
	if len(ents) != 1 || ents[0].Name() != "secret" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host directory holds %v, want only secret", names)
	}
	if b, _ := os.ReadFile(f.host + "/secret"); string(b) != "host\n" {
		t.Errorf("host secret changed: %q", b)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCopyOutResolvesInsideTheRoot(t *testing.T) {
	f := newFakeRoot(t)
	out := t.TempDir()
	tests := []struct {
		name, src string
		follow    bool
		want      string // content of out/<name>; "" for an error
	}{
		{"through an absolute symlink", "/abs/etc/passwd", false, "container\n"},
		{"through a relative symlink up", "/up/etc/passwd", false, "container\n"},
		{"a followed symlink", "/dir/link", true, "container\n"},
		{"relative to the root", "etc/passwd", false, "container\n"},
		{"host path via up", "/up" + f.host + "/secret", false, ""},
		{"host path via a host symlink", "/hostdir/secret", false, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(out, string(rune('a'+i)))
			err := f.copyOut(tt.src, tt.follow, dst)
			if tt.want == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("copy %s: %v, want no such file", tt.src, err)
				}
				if _, err := os.Lstat(dst); err == nil {
					t.Errorf("%s was written", dst)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dst); got != tt.want {
				t.Errorf("copied %q, want %q", got, tt.want)
			}
		})
	}
	f.hostUntouched(t)
}

func TestCopyOutTree(t *testing.T) {
	f := newFakeRoot(t)
	out := t.TempDir()
	if err := f.copyOut("/dir", false, out); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, out+"/dir/file") + readFile(t, out+"/dir/sub/deep")
	if got != "file\ndeep\n" {
		t.Errorf("contents %q", got)
	}
	if target, err := os.Readlink(out + "/dir/link"); err != nil || target != "/etc/passwd" {
		t.Errorf("link: %q, %v; want the symlink itself", target, err)
	}
	fi, err := os.Stat(out + "/dir/file")
	mustDo(t, err)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode())
	}
	want := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	if !fi.ModTime().Equal(want) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), want)
	}
	if di, err := os.Stat(out + "/dir/sub"); err != nil || !di.ModTime().Equal(want) {
		t.Errorf("directory mtime %v, want %v (set after its contents)", di.ModTime(), want)
	}
	hl, err := os.Stat(out + "/dir/hardlink")
	mustDo(t, err)
	if !os.SameFile(fi, hl) {
		t.Error("hard link copied as a separate file")
	}
}

// Docker's destination rules.
func TestCopyDestinations(t *testing.T) {
	f := newFakeRoot(t)
	out := t.TempDir()
	mustDo(t, os.WriteFile(out+"/existing", []byte("old"), 0o600))
	mustDo(t, os.Mkdir(out+"/into", 0o755))
	mustDo(t, os.Mkdir(out+"/contents", 0o755))
	tests := []struct {
		name, src, dst string
		check          string // a file that must exist afterwards
		wantErr        string
	}{
		{"file to new name", "/etc/passwd", out + "/newname", out + "/newname", ""},
		{"file over a file", "/etc/passwd", out + "/existing", out + "/existing", ""},
		{"file into a directory", "/etc/passwd", out + "/into", out + "/into/passwd", ""},
		{"directory to new name", "/dir", out + "/newdir", out + "/newdir/sub/deep", ""},
		{"directory into a directory", "/dir/sub", out + "/into/", out + "/into/sub/deep", ""},
		{"directory contents", "/dir/sub/.", out + "/contents", out + "/contents/deep", ""},
		{"root contents", "/", out + "/whole", out + "/whole/etc/passwd", ""},
		{"directory over a file", "/dir", out + "/existing", "", "cannot copy a directory to a file"},
		{"file to a missing directory", "/etc/passwd", out + "/missing/", "", "does not exist"},
		{"into a missing parent", "/etc/passwd", out + "/no/such", "", "does not exist"},
		{"missing source", "/nosuch", out + "/x", "", "ctr:/nosuch: no such file or directory"},
		{"contents of a file", "/etc/passwd/.", out + "/y", "", "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.copyOut(tt.src, false, tt.dst)
			if tt.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.check); err != nil {
				t.Error(err)
			}
		})
	}
	if got := readFile(t, out+"/existing"); got != "container\n" {
		t.Errorf("existing file holds %q after the copy", got)
	}
}

func TestCopyInStaysInsideTheRoot(t *testing.T) {
	f := newFakeRoot(t)
	src := filepath.Join(t.TempDir(), "payload")
	mustDo(t, os.WriteFile(src, []byte("payload"), 0o644))
	// Every destination would be the host directory if resolved on the
	// host.
	for _, dst := range []string{"/hostdir", "/hostdir/", "/up" + f.host, "/abs" + f.host + "/", "/hostdir/new"} {
		err := f.copyIn(src, dst)
		t.Logf("copy to %s: %v", dst, err)
	}
	f.hostUntouched(t)
	// Inside the root the same paths work: the symlink to / is the root.
	mustDo(t, f.copyIn(src, "/abs/etc/"))
	if got := readFile(t, f.root+"/etc/payload"); got != "payload" {
		t.Errorf("copied %q", got)
	}
}

// An archive that plants a symlink and then writes through it, or climbs
// out with "..", must not reach outside the destination.
func TestExtractRefusesEscapes(t *testing.T) {
	host := t.TempDir()
	tests := []struct {
		name    string
		entries []*tar.Header
	}{
		{"write through a planted symlink", []*tar.Header{
			{Name: "a", Typeflag: tar.TypeSymlink, Linkname: host},
			{Name: "a/pwned", Typeflag: tar.TypeReg, Mode: 0o644},
		}},
		{"climb out", []*tar.Header{{Name: "../pwned", Typeflag: tar.TypeReg, Mode: 0o644}}},
		{"hard link to a host file", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../" + filepath.Base(host) + "/victim"}}},
		{"symlinked directory then file", []*tar.Header{
			{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "../" + filepath.Base(host)},
			{Name: "d/pwned", Typeflag: tar.TypeReg, Mode: 0o644},
		}},
	}
	mustDo(t, os.WriteFile(host+"/victim", nil, 0o644))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(filepath.Dir(host), "dest-"+filepath.Base(t.Name()))
			mustDo(t, os.Mkdir(dest, 0o755))
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, h := range tt.entries {
				mustDo(t, tw.WriteHeader(h))
			}
			mustDo(t, tw.Close())
			d, err := os.OpenFile(dest, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			mustDo(t, err)
			defer d.Close()
			x := &extractor{dir: d, owner: noChown}
			if err := x.run(tar.NewReader(&b)); err == nil {
				t.Error("extraction succeeded")
			}
			ents, _ := os.ReadDir(host)
			if len(ents) != 1 {
				t.Errorf("host directory holds %d entries, want only victim", len(ents))
			}
			if _, err := os.Stat(filepath.Dir(host) + "/pwned"); err == nil {
				t.Error("pwned written beside the destination")
			}
			if fi, _ := os.Stat(host + "/victim"); fi != nil && fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Error("host file got a hard link")
			}
		})
	}
}

func TestArchiveNames(t *testing.T) {
	f := newFakeRoot(t)
	s, err := openSource(f.end, "/dir/sub", false)
	mustDo(t, err)
	defer s.h.Close()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	a := archiver{tw: tw, ids: identity, links: map[[2]uint64]string{}}
	mustDo(t, a.add(s.h, &s.st, s.base))
	mustDo(t, tw.Close())
	var names []string
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if diff := cmp.Diff([]string{"sub/", "sub/deep"}, names); diff != "" {
		t.Errorf("archive names (-want +got):\n%s", diff)
	}
}
