//go:build linux

package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/internal/prunefilter"
)

func names(vols []Volume) []string {
	out := []string{}
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateGetList(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	if vols, err := s.List(); err != nil || len(vols) != 0 {
		t.Fatalf("List of a new store = %v, %v; want nothing", vols, err)
	}
	v, err := s.Create("data", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	want := Volume{
		Name: "data", Driver: DriverLocal, Scope: "local",
		Mountpoint: filepath.Join(root, "volumes", "data", "_data"),
		Labels:     map[string]string{"k": "v"}, CreatedAt: v.CreatedAt,
	}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Errorf("mountpoint: %v", err)
	}
	got, err := s.Get("data")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	// Creating an existing volume returns it unchanged, as in Docker.
	again, err := s.Create("data", nil)
	if err != nil || again.Labels["k"] != "v" {
		t.Errorf("Create again = %+v, %v; want the existing volume", again, err)
	}
	anon, err := s.Create("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(anon.Name) != 64 || anon.Anonymous {
		t.Errorf("Create(\"\") = %+v; want a 64-hex name, not anonymous", anon)
	}
	vols, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	// List sorts by name; the random name may sort either side of "data".
	wantNames := []string{anon.Name, "data"}
	slices.Sort(wantNames)
	if diff := cmp.Diff(wantNames, names(vols)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v; want ErrNotFound", err)
	}
	if _, err := s.Get("../etc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(../etc) = %v; want ErrNotFound", err)
	}
	// A creation that died before writing its record is not listed.
	if err := os.MkdirAll(filepath.Join(root, "volumes", "half", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	vols, _ = s.List()
	if diff := cmp.Diff(wantNames, names(vols)); diff != "" {
		t.Errorf("List with a half-made volume (-want +got):\n%s", diff)
	}
}

func TestCreateInvalidName(t *testing.T) {
	s := New(t.TempDir())
	for _, name := range []string{"a", "-x", ".x", "a/b", "../x", "a b", "x:y", "_x"} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(name, nil); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Create(%q) = %v; want ErrInvalidName", name, err)
			}
		})
	}
	for _, name := range []string{"ab", "A1", "x_y.z-1", "0a"} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(name, nil); err != nil {
				t.Errorf("Create(%q) = %v", name, err)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	s := New(t.TempDir())
	users := map[string][]string{}
	s.Users = func() (map[string][]string, error) { return users, nil }
	v, err := s.Create("data", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	users["data"] = []string{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	for _, force := range []bool{false, true} {
		err := s.Remove("data", force)
		if !errors.Is(err, ErrInUse) {
			t.Errorf("Remove(force=%v) of a volume in use = %v; want ErrInUse", force, err)
		}
	}
	delete(users, "data")
	if err := s.Remove("data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v; want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Dir(v.Mountpoint)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("volume directory after Remove: %v", err)
	}
	if err := s.Remove("data", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a missing volume = %v; want ErrNotFound", err)
	}
	if err := s.Remove("data", true); err != nil {
		t.Errorf("Remove(force) of a missing volume = %v; want nil", err)
	}
}

func TestClaimAndPrune(t *testing.T) {
	s := New(t.TempDir())
	users := map[string][]string{}
	s.Users = func() (map[string][]string, error) { return users, nil }
	if _, err := s.Create("kept", nil); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim([]string{"kept", "fresh", ""})
	if err != nil {
		t.Fatal(err)
	}
	vols := c.Volumes()
	if len(vols) != 3 || vols[0].Name != "kept" || vols[1].Name != "fresh" || !vols[2].Anonymous || vols[1].Anonymous {
		t.Fatalf("Claim volumes = %+v", vols)
	}
	// A failed container creation takes back what its claim created.
	c.Release(false)
	all, _ := s.List()
	if diff := cmp.Diff([]string{"kept"}, names(all)); diff != "" {
		t.Errorf("List after an unused claim (-want +got):\n%s", diff)
	}
	if _, err := s.Claim([]string{"../x"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Claim of a bad name = %v; want ErrInvalidName", err)
	}

	c, err = s.Claim([]string{"fresh", "", ""})
	if err != nil {
		t.Fatal(err)
	}
	vols = c.Volumes()
	c.Release(true)
	users[vols[1].Name] = []string{"ctr"}
	anon := vols[2].Name
	all, _ = s.List()
	if len(all) != 4 {
		t.Fatalf("List after a used claim = %v; want 4 volumes", names(all))
	}
	if err := os.WriteFile(filepath.Join(vols[2].Mountpoint, "f"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prune(false, prunefilter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Pruned{Names: []string{anon}, Bytes: 5}, p); diff != "" {
		t.Errorf("Prune(false) (-want +got):\n%s", diff)
	}
	p, err = s.Prune(true, prunefilter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fresh", "kept"}, p.Names); diff != "" {
		t.Errorf("Prune(true) (-want +got):\n%s", diff)
	}
	all, _ = s.List()
	if diff := cmp.Diff([]string{vols[1].Name}, names(all)); diff != "" {
		t.Errorf("List after prune: only the volume in use should be left (-want +got):\n%s", diff)
	}
}

func TestPopulate(t *testing.T) {
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub"), 0o750))
	must(os.WriteFile(filepath.Join(src, "sub", "file"), []byte("hello"), 0o640))
	must(os.Link(filepath.Join(src, "sub", "file"), filepath.Join(src, "hard")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "abs")))
	must(os.Symlink("../../../..", filepath.Join(src, "up")))
	must(syscall.Mkfifo(filepath.Join(src, "pipe"), 0o600))
	must(os.Chmod(src, 0o777|fs.ModeSticky))

	dst := t.TempDir()
	copied, err := Populate(dst, src)
	if err != nil || !copied {
		t.Fatalf("Populate = %v, %v; want a copy", copied, err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "sub", "file"))
	if err != nil || string(b) != "hello" {
		t.Errorf("sub/file = %q, %v", b, err)
	}
	fi, _ := os.Stat(filepath.Join(dst, "sub", "file"))
	if fi == nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("sub/file mode = %v; want 0640", fi)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub")); fi == nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("sub mode = %v; want 0750", fi)
	}
	if fi, _ := os.Stat(dst); fi == nil || fi.Mode()&(fs.ModePerm|fs.ModeSticky) != 0o777|fs.ModeSticky {
		t.Errorf("volume root mode = %v; want the source's 1777", fi)
	}
	a, _ := os.Stat(filepath.Join(dst, "sub", "file"))
	h, _ := os.Stat(filepath.Join(dst, "hard"))
	if a == nil || h == nil || !os.SameFile(a, h) {
		t.Errorf("hard link not kept")
	}
	for link, want := range map[string]string{"abs": "/etc/passwd", "up": "../../../.."} {
		if got, err := os.Readlink(filepath.Join(dst, link)); err != nil || got != want {
			t.Errorf("symlink %s -> %q, %v; want %q", link, got, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "pipe")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("pipe: %v, %v", fi, err)
	}

	// A volume with content is never populated again.
	must(os.WriteFile(filepath.Join(src, "later"), nil, 0o644))
	if copied, err := Populate(dst, src); err != nil || copied {
		t.Errorf("Populate of a non-empty volume = %v, %v; want nothing done", copied, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "later")); err == nil {
		t.Errorf("later was copied into a non-empty volume")
	}
	// Nothing to copy from a file or a missing path.
	empty := t.TempDir()
	for _, s := range []string{filepath.Join(src, "hard"), filepath.Join(src, "missing")} {
		if copied, err := Populate(empty, s); err != nil || copied {
			t.Errorf("Populate from %s = %v, %v; want nothing done", s, copied, err)
		}
	}
}

func TestChown(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(dir, "a", "root")); err != nil {
		t.Fatal(err)
	}
	// Our own ids: the only change an unprivileged test may make.
	if err := Chown(dir, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
}

func TestStorePopulate(t *testing.T) {
	s := New(t.TempDir())
	v, err := s.Create("data", nil)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if copied, err := s.Populate(v, src); err != nil || copied != want {
			t.Errorf("Populate #%d = %v, %v; want %v", i+1, copied, err, want)
		}
	}
}

func TestDiskUsage(t *testing.T) {
	s := New(t.TempDir())
	users := map[string][]string{"used": {"ctr"}}
	s.Users = func() (map[string][]string, error) { return users, nil }
	for name, data := range map[string]string{"used": "123", "idle": "12345"} {
		v, err := s.Create(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Usage{Total: 2, Active: 1, Size: 8, Reclaimable: 5}, u); diff != "" {
		t.Errorf("DiskUsage (-want +got):\n%s", diff)
	}
}
