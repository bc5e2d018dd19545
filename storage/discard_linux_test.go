package storage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newVFS opens a vfs store under a temporary directory: storage's
// recovery of staging directories is the same for every driver.
func newVFS(t *testing.T) (Options, string) {
	t.Helper()
	dir := t.TempDir()
	o := Options{GraphRoot: filepath.Join(dir, "graph"), RunRoot: filepath.Join(dir, "run"), Driver: DriverVFS}
	return o, filepath.Join(o.GraphRoot, DriverVFS, tempDirsName)
}

// upper makes a directory with a file in it, standing for what a
// container wrote.
func upper(t *testing.T, dir string) string {
	t.Helper()
	u := filepath.Join(dir, "upper")
	if err := os.MkdirAll(filepath.Join(u, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(u, "a", "b", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return u
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// openAndLoad opens the store and reads its layers, which is when storage
// recovers the staging directories nobody holds.
func openAndLoad(t *testing.T, o Options) {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(true)
	if _, err := s.Layers(); err != nil {
		t.Fatal(err)
	}
}

// TestDiscardRecovered: what a remover that died left behind goes at the
// next start, and what a live one holds stays. This holds storage's
// staging layout, which lodger reproduces, to what storage recovers.
func TestDiscardRecovered(t *testing.T) {
	o, tempDirs := newVFS(t)
	openAndLoad(t, o) // storage's directories exist, as after any command
	d, err := stage(tempDirs, upper(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries(t, tempDirs)) != 2 {
		t.Fatalf("staging area holds %v, want a lock and a directory", entries(t, tempDirs))
	}
	openAndLoad(t, o)
	if got := entries(t, tempDirs); len(got) != 2 {
		t.Fatalf("storage removed a staged directory whose lock is held: %v left", got)
	}
	d.lock.Close() // the remover died
	openAndLoad(t, o)
	if got := entries(t, tempDirs); len(got) != 0 {
		t.Errorf("after a start, the staging area still holds %v, want nothing", got)
	}
}

// TestDiscardRemove: the remover takes the staged directory and its lock
// without lodger waiting for it.
func TestDiscardRemove(t *testing.T) {
	_, tempDirs := newVFS(t)
	u := upper(t, t.TempDir())
	d, err := stage(tempDirs, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(u); !os.IsNotExist(err) {
		t.Fatalf("the upper directory is still in place after stage: %v", err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(entries(t, tempDirs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := entries(t, tempDirs); len(got) != 0 {
		t.Errorf("the staging area still holds %v, want nothing", got)
	}
}

// TestDiscardRestore: a container whose delete failed gets its files back.
func TestDiscardRestore(t *testing.T) {
	_, tempDirs := newVFS(t)
	u := upper(t, t.TempDir())
	d, err := stage(tempDirs, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Restore(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(u, "a", "b", "f")); err != nil || string(b) != "x" {
		t.Errorf("restored file: %q, %v; want x", b, err)
	}
	if got := entries(t, tempDirs); len(got) != 0 {
		t.Errorf("the staging area still holds %v, want nothing", got)
	}
}

// TestLarge counts entries and bytes and stops early.
func TestLarge(t *testing.T) {
	dir := t.TempDir()
	if large(dir) {
		t.Error("an empty directory counts as large")
	}
	for i := range discardEntries + 1 {
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !large(dir) {
		t.Errorf("%d entries do not count as large", discardEntries+2)
	}
	one := t.TempDir()
	f, err := os.Create(filepath.Join(one, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(discardBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !large(one) {
		t.Error("a file over the byte bound does not count as large")
	}
}
