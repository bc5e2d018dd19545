package rootless

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The run directory's checks, shared with the C constructor in
// rootless/nsenter (issue 12, finding 2). Without XDG_RUNTIME_DIR the run
// directory is /tmp/lodger-run-UID, a name any local user can create
// first. Whoever owns it, or may write in it, chooses the pid lodger joins
// and where its attach sockets, exit files and logs go. So lodger uses the
// directory, its session subdirectory and the files in it only when they
// are the user's own and nobody else may write in them, never through a
// symbolic link, and joins a pid only when the lodger that started the
// keeper recorded that very process (keeperFile).

// ErrUnsafeRunDir is what every UnsafeRunDirError matches with errors.Is.
var ErrUnsafeRunDir = errors.New("unsafe run directory")

// UnsafeRunDirError says which part of the run directory lodger refused
// and why.
type UnsafeRunDirError struct {
	Path    string
	Problem string // "owned by uid 1002, not by you"
	// Theirs is set when another user owns Path: the user cannot remove
	// it from a sticky /tmp, so the advice differs.
	Theirs bool
}

func (e *UnsafeRunDirError) Error() string {
	advice := "remove it and run the command again, or set XDG_RUNTIME_DIR to a private directory of your own"
	if e.Theirs {
		advice = "another user may have planted it: set XDG_RUNTIME_DIR to a private directory of your own, or ask an administrator to remove it"
	}
	return fmt.Sprintf("unsafe run directory %s: %s; %s", e.Path, e.Problem, advice)
}

// Is makes errors.Is(err, ErrUnsafeRunDir) true.
func (e *UnsafeRunDirError) Is(target error) bool { return target == ErrUnsafeRunDir }

// File type and permission bits of st_mode, as the kernel reports them.
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeSymlink  = 0o120000
	modeOtherW   = 0o022 // group or other may write
)

// privateProblem says what is wrong with an entry of the run directory
// that uid owns with st_mode mode, for the user me; "" when nothing.
// theirs is set when someone else owns it.
func privateProblem(uid, me uint32, mode uint32, wantDir bool) (problem string, theirs bool) {
	switch typ := mode & modeTypeMask; {
	case typ == modeSymlink:
		return "a symbolic link, which lodger does not follow here", uid != me
	case wantDir && typ != modeDir:
		return "not a directory", uid != me
	case !wantDir && typ != modeRegular:
		return "not a regular file", uid != me
	}
	if uid != me {
		return fmt.Sprintf("owned by uid %d, not by you", uid), true
	}
	if mode&modeOtherW != 0 {
		return fmt.Sprintf("mode %04o lets other users write in it", mode&0o7777), false
	}
	return "", false
}

// parentProblem says what is wrong with the directory that holds the run
// directory: someone other than the user or root who may write in it, or
// anyone at all when it is not sticky, could rename the run directory away
// and put their own in its place.
func parentProblem(uid, me uint32, mode uint32) string {
	if uid != me && uid != 0 {
		return fmt.Sprintf("owned by uid %d, neither you nor root", uid)
	}
	if mode&modeOtherW != 0 && mode&0o1000 == 0 {
		return fmt.Sprintf("mode %04o lets other users rename what is in it (no sticky bit)", mode&0o7777)
	}
	return ""
}

// keeperFile is the record, beside rootlesskit's child_pid, of the process
// that holds the session's namespaces: "PID STARTTIME BOOTID\n". The
// lodger that started the keeper writes it after seeing that the pid is a
// descendant of the keeper it started itself and has not reaped. A pid
// that a container process (or anything else) got after the keeper died
// has another start time, and a record from before a reboot has another
// boot id, so neither lodger nor the C constructor joins it.
const keeperFile = "keeper"

// maxRecord bounds what is read of child_pid and keeperFile.
const maxRecord = 128

// KeeperRecord identifies one process for good: its pid, its start time in
// clock ticks after boot (field 22 of /proc/PID/stat) and the boot id.
type KeeperRecord struct {
	PID       int
	StartTime uint64
	BootID    string
}

func (r KeeperRecord) String() string {
	return fmt.Sprintf("%d %d %s\n", r.PID, r.StartTime, r.BootID)
}

// ParseKeeperRecord parses what KeeperRecord.String wrote.
func ParseKeeperRecord(b []byte) (KeeperRecord, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || !bytes.HasSuffix(b, []byte("\n")) {
		return KeeperRecord{}, fmt.Errorf("keeper record %q: want PID STARTTIME BOOTID", b)
	}
	pid, err := parsePID([]byte(f[0]))
	if err != nil {
		return KeeperRecord{}, err
	}
	start, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || start == 0 {
		return KeeperRecord{}, fmt.Errorf("keeper record %q: bad start time", b)
	}
	return KeeperRecord{PID: pid, StartTime: start, BootID: f[2]}, nil
}

// parsePID parses a decimal pid with optional surrounding white space,
// as rootlesskit writes child_pid.
func parsePID(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || s[0] == '+' {
		return 0, fmt.Errorf("bad pid %q", b)
	}
	return pid, nil
}

// parseProcStat returns the parent pid and the start time from the text of
// /proc/PID/stat. The command name in parentheses may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parseProcStat(b []byte) (ppid int, start uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("parse /proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field N is f[N-3].
	if len(f) < 20 {
		return 0, 0, errors.New("parse /proc stat: too few fields")
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc stat: ppid: %w", err)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc stat: start time: %w", err)
	}
	return ppid, start, nil
}
