package rootless

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoKeeper says the run directory records no live session keeper: none
// was started, it died, or its record no longer describes the process at
// that pid. The next command starts a fresh one.
var ErrNoKeeper = errors.New("no live session keeper")

// sessionSubdir holds rootlesskit's state: child_pid, its lock, api.sock,
// and lodger's keeperFile.
const sessionSubdir = "session"

// EnsureRunDir creates the run directory when it is missing and checks it
// and its session subdirectory: the user's own, nobody else may write in
// them, no symbolic link (issue 12). Outside the session it also checks
// the directory that holds it; inside, the C constructor did that before
// it joined. Every command that uses the run directory calls it, whether
// or not the constructor has joined already.
func EnsureRunDir() error {
	dir := RunDir()
	if !InSession() {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return err
		}
		if err := checkParent(dir); err != nil {
			return err
		}
	}
	if err := unix.Mkdir(dir, 0o700); err != nil && err != unix.EEXIST {
		return &fs.PathError{Op: "create run directory", Path: dir, Err: err}
	}
	fd, err := openPrivateDir(unix.AT_FDCWD, dir, dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sfd, err := openPrivateDir(fd, sessionSubdir, filepath.Join(dir, sessionSubdir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	unix.Close(sfd)
	return nil
}

func checkParent(dir string) error {
	parent := filepath.Dir(dir)
	var st unix.Stat_t
	if err := unix.Stat(parent, &st); err != nil {
		return &fs.PathError{Op: "check run directory's parent", Path: parent, Err: err}
	}
	if p := parentProblem(st.Uid, uint32(os.Geteuid()), st.Mode); p != "" {
		return &UnsafeRunDirError{Path: parent, Problem: p, Theirs: st.Uid != uint32(os.Geteuid())}
	}
	return nil
}

// openPrivateDir opens name under dirfd (path is its full name, for
// errors) without following a symbolic link and checks the directory it
// got, not the name: nothing can be swapped in between.
func openPrivateDir(dirfd int, name, path string) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, openError(dirfd, name, path, err, true)
	}
	if err := checkFD(fd, path, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// readPrivateFile reads at most maxRecord bytes of the regular file name
// under dirfd, refusing what the user does not own or others may write.
// O_NONBLOCK: a FIFO in its place must not hang the command.
func readPrivateFile(dirfd int, name, path string) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(dirfd, name, path, err, false)
	}
	defer unix.Close(fd)
	if err := checkFD(fd, path, false); err != nil {
		return nil, err
	}
	buf := make([]byte, maxRecord+1)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n > maxRecord {
		return nil, &UnsafeRunDirError{Path: path, Problem: fmt.Sprintf("longer than %d bytes", maxRecord)}
	}
	return buf[:n], nil
}

// openError turns a refused O_NOFOLLOW open of a symbolic link (ELOOP; or
// ENOTDIR for a file where a directory belongs) into an UnsafeRunDirError.
func openError(dirfd int, name, path string, err error, wantDir bool) error {
	if err == unix.ELOOP || err == unix.ENOTDIR {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if p, theirs := privateProblem(st.Uid, uint32(os.Geteuid()), st.Mode, wantDir); p != "" {
				return &UnsafeRunDirError{Path: path, Problem: p, Theirs: theirs}
			}
		}
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

func checkFD(fd int, path string, wantDir bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if p, theirs := privateProblem(st.Uid, uint32(os.Geteuid()), st.Mode, wantDir); p != "" {
		return &UnsafeRunDirError{Path: path, Problem: p, Theirs: theirs}
	}
	return nil
}

// openSession opens the checked run directory's session subdirectory.
// A missing one is ErrNoKeeper.
func openSession() (int, string, error) {
	dir := RunDir()
	fd, err := openPrivateDir(unix.AT_FDCWD, dir, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return -1, "", ErrNoKeeper
		}
		return -1, "", err
	}
	defer unix.Close(fd)
	sdir := filepath.Join(dir, sessionSubdir)
	sfd, err := openPrivateDir(fd, sessionSubdir, sdir)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, "", ErrNoKeeper
	}
	return sfd, sdir, err
}

// readChildPID reads rootlesskit's child_pid. Missing, empty (rootlesskit
// is writing it) or garbled is ErrNoKeeper.
func readChildPID(sfd int, sdir string) (int, error) {
	b, err := readPrivateFile(sfd, "child_pid", filepath.Join(sdir, "child_pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNoKeeper
	}
	if err != nil {
		return 0, err
	}
	pid, err := parsePID(b)
	if err != nil {
		return 0, fmt.Errorf("%w: child_pid: %v", ErrNoKeeper, err)
	}
	return pid, nil
}

// SessionKeeper returns the pid whose user and mount namespaces make the
// session: the one child_pid names, when the keeper record beside it still
// describes that very process, the process is the user's and it lives in
// another user namespace. It returns ErrNoKeeper when there is no such
// process and an *UnsafeRunDirError when the run directory fails the
// checks. The C constructor in rootless/nsenter checks the same.
func SessionKeeper() (int, error) {
	sfd, sdir, err := openSession()
	if err != nil {
		return 0, err
	}
	defer unix.Close(sfd)
	pid, err := readChildPID(sfd, sdir)
	if err != nil {
		return 0, err
	}
	b, err := readPrivateFile(sfd, keeperFile, filepath.Join(sdir, keeperFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: child_pid %d has no keeper record", ErrNoKeeper, pid)
	}
	if err != nil {
		return 0, err
	}
	rec, err := ParseKeeperRecord(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoKeeper, err)
	}
	if rec.PID != pid {
		return 0, fmt.Errorf("%w: child_pid %d, keeper record %d", ErrNoKeeper, pid, rec.PID)
	}
	ppid, start, err := procStat(pid)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoKeeper, err)
	}
	boot, err := bootID()
	if err != nil {
		return 0, err
	}
	if start != rec.StartTime || boot != rec.BootID {
		return 0, fmt.Errorf("%w: pid %d is no longer the recorded keeper", ErrNoKeeper, pid)
	}
	if err := otherUserNS(pid); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoKeeper, err)
	}
	// The holder's parent is the keeper, in the host's user namespace;
	// a container process's parent is its monitor, inside the session. A
	// record forged by someone who may write in the run directory (a
	// container given it as a volume) cannot change that.
	if same, err := ownInUserNS(ppid); err != nil || !same {
		return 0, fmt.Errorf("%w: the parent of pid %d is not a keeper of yours in this user namespace", ErrNoKeeper, pid)
	}
	return pid, nil
}

// otherUserNS checks that pid is the user's and lives in a user namespace
// other than this process's.
func otherUserNS(pid int) error {
	same, err := ownInUserNS(pid)
	if err != nil {
		return err
	}
	if same {
		return fmt.Errorf("pid %d is in this process's user namespace", pid)
	}
	return nil
}

// ownInUserNS checks that pid is the user's and reports whether it shares
// this process's user namespace.
func ownInUserNS(pid int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid), &st); err != nil {
		return false, err
	}
	if int(st.Uid) != os.Getuid() {
		return false, fmt.Errorf("pid %d belongs to uid %d", pid, st.Uid)
	}
	theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	mine, err2 := os.Readlink("/proc/self/ns/user")
	if err := errors.Join(err1, err2); err != nil {
		return false, err
	}
	return theirs == mine, nil
}

// RecordKeeper is for the lodger that started the keeper whose pid is
// keeper and has not reaped it, so that pid names no other process. Once
// child_pid is written it checks that the pid there descends from keeper
// and writes the keeper record, atomically. Until then it returns
// ErrNoKeeper.
func RecordKeeper(keeper int) (int, error) {
	sfd, sdir, err := openSession()
	if err != nil {
		return 0, err
	}
	defer unix.Close(sfd)
	pid, err := readChildPID(sfd, sdir)
	if err != nil {
		return 0, err
	}
	// One read of /proc/PID/stat gives the parent and the start time of
	// the same process. rootlesskit's child is the keeper's own child;
	// allow a short chain for a keeper that runs the holder through a
	// helper of its own.
	ppid, start, err := procStat(pid)
	for p, depth := ppid, 0; err == nil && p != keeper; depth++ {
		if p <= 1 || depth == 3 {
			return 0, fmt.Errorf("child_pid %d does not descend from the session keeper %d", pid, keeper)
		}
		p, _, err = procStat(p)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoKeeper, err)
	}
	if err := otherUserNS(pid); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoKeeper, err)
	}
	boot, err := bootID()
	if err != nil {
		return 0, err
	}
	rec := KeeperRecord{PID: pid, StartTime: start, BootID: boot}
	tmp := keeperFile + ".tmp"
	fd, err := unix.Openat(sfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, &fs.PathError{Op: "write keeper record", Path: filepath.Join(sdir, tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(sdir, tmp))
	_, err = f.WriteString(rec.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(sfd, tmp, sfd, keeperFile)
	}
	if err != nil {
		return 0, fmt.Errorf("write keeper record in %s: %w", sdir, err)
	}
	return pid, nil
}

func procStat(pid int) (ppid int, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(b)
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
