package rootless

import (
	"strings"
	"testing"
)

func TestPrivateProblem(t *testing.T) {
	const me = 1000
	for _, tc := range []struct {
		name       string
		uid, mode  uint32
		wantDir    bool
		want       string // substring of the problem; "" for none
		wantTheirs bool
	}{
		{"own private dir", me, modeDir | 0o700, true, "", false},
		{"own readable dir", me, modeDir | 0o755, true, "", false},
		{"own file", me, modeRegular | 0o444, false, "", false},
		{"dir of another user", 1002, modeDir | 0o700, true, "owned by uid 1002", true},
		{"root's dir", 0, modeDir | 0o755, true, "owned by uid 0", true},
		{"group-writable dir", me, modeDir | 0o770, true, "mode 0770", false},
		{"world-writable sticky dir", me, modeDir | 0o1777, true, "mode 1777", false},
		{"other-writable file", me, modeRegular | 0o646, false, "mode 0646", false},
		{"symlink of another user", 1002, modeSymlink | 0o777, true, "symbolic link", true},
		{"own symlink", me, modeSymlink | 0o777, true, "symbolic link", false},
		{"file for a dir", me, modeRegular | 0o600, true, "not a directory", false},
		{"fifo for a file", me, 0o010000 | 0o600, false, "not a regular file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, theirs := privateProblem(tc.uid, me, tc.mode, tc.wantDir)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("privateProblem() = %q, want %q", got, tc.want)
			}
			if theirs != tc.wantTheirs {
				t.Errorf("privateProblem() theirs = %v, want %v", theirs, tc.wantTheirs)
			}
		})
	}
}

func TestParentProblem(t *testing.T) {
	const me = 1000
	for _, tc := range []struct {
		name      string
		uid, mode uint32
		want      string
	}{
		{"/tmp", 0, modeDir | 0o1777, ""},
		{"/run/user/UID", me, modeDir | 0o700, ""},
		{"world-writable, not sticky", 0, modeDir | 0o777, "no sticky bit"},
		{"another user's sticky dir", 1002, modeDir | 0o1777, "owned by uid 1002"},
	} {
		got := parentProblem(tc.uid, me, tc.mode)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: parentProblem() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnsafeRunDirErrorSaysWhatToDo(t *testing.T) {
	theirs := (&UnsafeRunDirError{Path: "/tmp/lodger-run-1000", Problem: "owned by uid 1002, not by you", Theirs: true}).Error()
	for _, s := range []string{"/tmp/lodger-run-1000", "uid 1002", "XDG_RUNTIME_DIR", "administrator"} {
		if !strings.Contains(theirs, s) {
			t.Errorf("%q lacks %q", theirs, s)
		}
	}
	mine := (&UnsafeRunDirError{Path: "/tmp/lodger-run-1000", Problem: "mode 0777 lets other users write in it"}).Error()
	for _, s := range []string{"/tmp/lodger-run-1000", "remove it", "XDG_RUNTIME_DIR"} {
		if !strings.Contains(mine, s) {
			t.Errorf("%q lacks %q", mine, s)
		}
	}
}

func TestKeeperRecord(t *testing.T) {
	rec := KeeperRecord{PID: 4242, StartTime: 123456, BootID: "0b6f1c1e-2f2a-4f7e-9d3b-5a1c2e3f4a5b"}
	got, err := ParseKeeperRecord([]byte(rec.String()))
	if err != nil || got != rec {
		t.Errorf("ParseKeeperRecord(%q) = %+v, %v; want %+v", rec.String(), got, err, rec)
	}
	for _, bad := range []string{
		"", "4242\n", "4242 123456\n", "4242 123456 boot", // no newline: a torn write
		"-1 123456 boot\n", "0 123456 boot\n", "x 123456 boot\n", "4242 0 boot\n", "4242 12x boot\n",
		"4242 123456 boot extra\n",
	} {
		if r, err := ParseKeeperRecord([]byte(bad)); err == nil {
			t.Errorf("ParseKeeperRecord(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestParsePID(t *testing.T) {
	for in, want := range map[string]int{"42": 42, "42\n": 42, " 7 ": 7} {
		if got, err := parsePID([]byte(in)); err != nil || got != want {
			t.Errorf("parsePID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "\n", "0", "-5", "+5", "5x", "99999999999999999999"} {
		if got, err := parsePID([]byte(bad)); err == nil {
			t.Errorf("parsePID(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name may hold spaces and ')' : fields count from the last one.
	line := "1234 (evil) 1 2 3) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n"
	ppid, start, err := parseProcStat([]byte(line))
	if err != nil || ppid != 77 || start != 987654 {
		t.Errorf("parseProcStat() = %d, %d, %v; want 77, 987654", ppid, start, err)
	}
	for _, bad := range []string{"", "1234 (x S 1", "1234 (x) S 1 2 3"} {
		if _, _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) succeeded", bad)
		}
	}
}
