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
		inPath := filepath.Join(t.TempDir(), "opt", Program)
		install(t, inPath)
		got, err := find(t.TempDir(), func(name string) (string, error) { return inPath, nil })
		if err != nil || got != inPath {
			t.Errorf("find() = %q, %v; want the file from PATH", got, err)
		}
	})
	// As the attacker: a monitor another user could plant beside a lodger
	// copied into a world-writable directory, or one found in PATH there,
	// is not run.
	t.Run("planted", func(t *testing.T) {
		shared := filepath.Join(t.TempDir(), "tmp")
		install(t, filepath.Join(shared, Program))
		if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
		planted := filepath.Join(shared, Program)
		for _, c := range []struct {
			where    string
			dir      string
			lookPath func(string) (string, error)
		}{
			{"beside lodger", shared, noPath},
			{"in PATH", t.TempDir(), func(string) (string, error) { return planted, nil }},
		} {
			if _, err := find(c.dir, c.lookPath); err == nil || !strings.Contains(err.Error(), "anyone can create files in "+shared) {
				t.Errorf("%s: find() = %v; want a refusal naming %s", c.where, err, shared)
			}
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
