package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	noPath := func(string) (string, error) { return "", errors.New("not in PATH") }
	install := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("beside lodger", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "bin")
		install(t, filepath.Join(bin, Program))
		got, err := find(bin, noPath)
		if err != nil || got != filepath.Join(bin, Program) {
			t.Errorf("find() = %q, %v; want the file beside lodger", got, err)
		}
	})
	t.Run("libexec", func(t *testing.T) {
		prefix := t.TempDir()
		install(t, filepath.Join(prefix, "libexec", "lodger", Program))
		got, err := find(filepath.Join(prefix, "bin"), noPath)
		if err != nil || filepath.Clean(got) != filepath.Join(prefix, "libexec", "lodger", Program) {
			t.Errorf("find() = %q, %v; want the file in libexec/lodger", got, err)
		}
	})
	t.Run("PATH", func(t *testing.T) {
		got, err := find(t.TempDir(), func(name string) (string, error) { return "/opt/x/" + name, nil })
		if err != nil || got != "/opt/x/"+Program {
			t.Errorf("find() = %q, %v; want the file from PATH", got, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		// Not executable: not the monitor.
		if err := os.WriteFile(filepath.Join(dir, Program), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := find(dir, noPath)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("find() = %v, want ErrNotFound", err)
		}
		for _, s := range []string{Program, dir, "make install"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %q", err, s)
			}
		}
	})
}
