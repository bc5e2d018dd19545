package rootless

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runDirFor points RunDir at a fresh directory of the test's own.
func runDirFor(t *testing.T) string {
	t.Helper()
	x := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", x)
	t.Setenv(envJoined, "")
	return filepath.Join(x, "lodger")
}

func wantUnsafe(t *testing.T, err error, path, problem string) {
	t.Helper()
	var u *UnsafeRunDirError
	if !errors.As(err, &u) || !errors.Is(err, ErrUnsafeRunDir) {
		t.Fatalf("got %v, want an UnsafeRunDirError", err)
	}
	if u.Path != path || !strings.Contains(u.Problem, problem) {
		t.Errorf("got %v, want %s refused for %q", err, path, problem)
	}
}

func TestEnsureRunDirCreatesPrivate(t *testing.T) {
	dir := runDirFor(t)
	if err := EnsureRunDir(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("run directory %v, %v; want a 0700 directory", fi.Mode(), err)
	}
	if err := EnsureRunDir(); err != nil {
		t.Errorf("second EnsureRunDir() = %v", err)
	}
}

func TestEnsureRunDirRefuses(t *testing.T) {
	t.Run("writable by others", func(t *testing.T) {
		dir := runDirFor(t)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, EnsureRunDir(), dir, "mode 0777")
	})
	t.Run("symbolic link", func(t *testing.T) {
		dir := runDirFor(t)
		target := t.TempDir()
		if err := os.Symlink(target, dir); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, EnsureRunDir(), dir, "symbolic link")
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("EnsureRunDir wrote %v through the link", ents)
		}
	})
	t.Run("session is a symbolic link", func(t *testing.T) {
		dir := runDirFor(t)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(t.TempDir(), filepath.Join(dir, "session")); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, EnsureRunDir(), filepath.Join(dir, "session"), "symbolic link")
	})
	t.Run("parent writable by all, not sticky", func(t *testing.T) {
		dir := runDirFor(t)
		if err := os.Chmod(filepath.Dir(dir), 0o777); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, EnsureRunDir(), filepath.Dir(dir), "no sticky bit")
	})
}

// writeSession fills the session subdirectory with child_pid and a record.
func writeSession(t *testing.T, dir, childPID, record string) string {
	t.Helper()
	s := filepath.Join(dir, "session")
	if err := os.MkdirAll(s, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s, "child_pid"), []byte(childPID), 0o444); err != nil {
		t.Fatal(err)
	}
	if record != "" {
		if err := os.WriteFile(filepath.Join(s, keeperFile), []byte(record), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSessionKeeperRefusesWhatIsNotTheKeeper(t *testing.T) {
	self := os.Getpid()
	_, start, err := procStat(self)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := bootID()
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(self)
	for _, tc := range []struct {
		name, childPID, record string
	}{
		{"no session", "", ""},
		{"child_pid without a record", pid, ""},
		{"record of another pid", pid, KeeperRecord{PID: self + 1, StartTime: start, BootID: boot}.String()},
		{"pid reused: another start time", pid, KeeperRecord{PID: self, StartTime: start + 1, BootID: boot}.String()},
		{"record from another boot", pid, KeeperRecord{PID: self, StartTime: start, BootID: "other-boot"}.String()},
		// All matches, but this process shares the test's user namespace:
		// no keeper holds that.
		{"our own user namespace", pid, KeeperRecord{PID: self, StartTime: start, BootID: boot}.String()},
		{"garbage", "12ab", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := runDirFor(t)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.childPID != "" {
				writeSession(t, dir, tc.childPID, tc.record)
			}
			if got, err := SessionKeeper(); !errors.Is(err, ErrNoKeeper) {
				t.Errorf("SessionKeeper() = %d, %v; want ErrNoKeeper", got, err)
			}
		})
	}
}

func TestSessionKeeperRefusesUnsafeFiles(t *testing.T) {
	t.Run("child_pid writable by others", func(t *testing.T) {
		dir := runDirFor(t)
		s := writeSession(t, dir, "1", "")
		if err := os.Chmod(filepath.Join(s, "child_pid"), 0o666); err != nil {
			t.Fatal(err)
		}
		_, err := SessionKeeper()
		wantUnsafe(t, err, filepath.Join(s, "child_pid"), "mode 0666")
	})
	t.Run("child_pid is a symbolic link", func(t *testing.T) {
		dir := runDirFor(t)
		s := writeSession(t, dir, "1", "")
		p := filepath.Join(s, "child_pid")
		other := filepath.Join(t.TempDir(), "pid")
		if err := os.WriteFile(other, []byte("1"), 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(other, p); err != nil {
			t.Fatal(err)
		}
		_, err := SessionKeeper()
		wantUnsafe(t, err, p, "symbolic link")
	})
	t.Run("child_pid too long", func(t *testing.T) {
		dir := runDirFor(t)
		s := writeSession(t, dir, "1"+strings.Repeat(" ", maxRecord), "")
		_, err := SessionKeeper()
		wantUnsafe(t, err, filepath.Join(s, "child_pid"), "longer than")
	})
}
