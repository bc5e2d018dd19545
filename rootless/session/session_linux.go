package session

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/internal/companion"
	"github.com/lodger-containers/lodger/rootless"
)

// keeperArg is argv[1] of the detached keeper process.
const keeperArg = "_lodger-session"

// pauseArg is argv[1] of the process that holds the namespaces open.
const pauseArg = "_lodger-pause"

func sessionDir() string { return filepath.Join(rootless.RunDir(), "session") }

// Enter makes sure this process runs inside the session namespace. Real root
// and processes that already joined return at once. Otherwise Enter starts
// the keeper when there is none and re-executes the current command so that
// the C constructor joins it; on success Enter does not return.
func Enter() error {
	if rootless.IsRealRoot() {
		return nil
	}
	// Also when the C constructor has joined: the run directory is where
	// this command keeps its state (issue 12).
	if err := rootless.EnsureRunDir(); err != nil {
		return err
	}
	if rootless.InSession() {
		return nil
	}
	pid, err := ensureKeeper()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	env := append(os.Environ(), rootless.JoinEnv(pid))
	return fmt.Errorf("re-execute to join the session: %w", syscall.Exec(self, os.Args, env))
}

// ensureKeeper returns the pid whose namespaces make the session, starting a
// keeper when none is alive. A lock file serialises concurrent first starts.
func ensureKeeper() (int, error) {
	lock, err := os.OpenFile(filepath.Join(rootless.RunDir(), "session.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock session: %w", err)
	}
	pid, err := rootless.SessionKeeper()
	if err == nil {
		return pid, nil
	}
	if !errors.Is(err, rootless.ErrNoKeeper) {
		return 0, err
	}
	if err := rootless.Preflight(); err != nil {
		return 0, err
	}
	return startKeeper()
}

// livePID is the session keeper's pid, when there is a live one
// (rootless.SessionKeeper says why not).
func livePID() (int, bool) {
	pid, err := rootless.SessionKeeper()
	return pid, err == nil
}

func startKeeper() (int, error) {
	dir := sessionDir()
	// A keeper that died left its state behind; rootlesskit wants it fresh.
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	self, err := keeperExecutable()
	if err != nil {
		return 0, fmt.Errorf("session keeper: %w", err)
	}
	how, err := planKeeper(self)
	if err != nil {
		return 0, err
	}
	logPath := filepath.Join(rootless.RunDir(), "session.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := osexec.Command(self, keeperArg)
	if how.Helper == HelperRootlesskit {
		cmd = osexec.Command(how.Rootlesskit, rootlesskitArgs(dir, self)...)
	}
	cmd.Env = append(os.Environ(), rootless.NoJoinEnv(), "_LODGER_SESSION_DIR="+dir)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start session keeper: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited: //nolint:errcheck // its log says why, not its exit status
			msg, _ := os.ReadFile(logPath)
			return 0, keeperError(host, msg, self)
		case <-deadline:
			_ = cmd.Process.Kill()
			return 0, fmt.Errorf("create user namespace: keeper did not come up in 30s (see %s)", logPath)
		case <-tick.C:
			// Not reaped yet, the keeper's pid cannot name another
			// process while RecordKeeper checks that child_pid
			// descends from it.
			pid, err := rootless.RecordKeeper(cmd.Process.Pid)
			if errors.Is(err, rootless.ErrNoKeeper) {
				continue
			}
			if err != nil {
				_ = cmd.Process.Kill()
				return 0, err
			}
			// The keeper runs on alone; do not wait for it.
			_ = cmd.Process.Release()
			return pid, nil
		}
	}
}

// Program is the keeper's own small program, which lodger's build puts
// beside lodger.
const Program = "lodger-session"

// keeperExecutable is the program the keeper runs as: lodger-session
// beside the running program, so that what a user keeps running all the
// time is small; without it, the running program itself, which can be the
// keeper too. One that another user could have written or planted there
// is refused (companion.Check).
func keeperExecutable() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return keeperBeside(self)
}

func keeperBeside(self string) (string, error) {
	p := filepath.Join(filepath.Dir(self), Program)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p, companion.Check(p)
	}
	return self, nil
}

// keeperError is the error of a keeper that exited with log before the
// session was up; keeper is the program that tried to create it.
func keeperError(h hostFS, log []byte, keeper string) error {
	err := errors.New(keeperFailure(log))
	if re := restrictedError(h, err, keeper); re != nil {
		return re
	}
	return fmt.Errorf("create user namespace: %w", err)
}

// keeperFailure turns the keeper's log into one line a user can act on.
func keeperFailure(log []byte) string {
	s := strings.TrimSpace(string(log))
	if s == "" {
		return "session keeper exited without a message"
	}
	lines := strings.Split(s, "\n")
	last := lines[len(lines)-1]
	if bytes.Contains(log, []byte("newuidmap")) && bytes.Contains(log, []byte("write to uid_map failed")) {
		return last + "\n(newuidmap refused the mapping: check your ranges in /etc/subuid and /etc/subgid, and that newuidmap is setuid root or has cap_setuid)"
	}
	return last
}

// KeeperMain is the entry point of the detached keeper and of the processes
// it starts; main calls it first and exits with its status when it returns
// true.
func KeeperMain() (bool, int) {
	if os.Getenv(rootlesskitPipeEnv) != "" {
		return true, runRootlesskitChild()
	}
	if len(os.Args) < 2 {
		return false, 0
	}
	switch os.Args[1] {
	case keeperArg:
		return true, runKeeper()
	case pauseArg:
		pause()
		return true, 0
	}
	return false, 0
}

func runKeeper() int {
	dir := os.Getenv("_LODGER_SESSION_DIR")
	ids, err := rootless.LoadIDMap()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lodger: %v\n", err)
		return 1
	}
	if ids.Single {
		err = runSingleIDKeeper(dir)
	} else {
		err = runRootlesskitParent(dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lodger: %v\n", err)
		return 1
	}
	return 0
}

// runSingleIDKeeper maps only the user's own uid and gid, which needs no
// setuid helper: an unprivileged process may write that one-line map itself
// (after denying setgroups), and Go's SysProcAttr does exactly that.
func runSingleIDKeeper(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := osexec.Command(self, pauseArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start namespace holder: %w", err)
	}
	defer os.RemoveAll(dir)
	pidPath := filepath.Join(dir, "child_pid")
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)), 0o444); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	return cmd.Wait()
}

// pause holds the namespaces open. The C constructor in rootless/nsenter
// normally does this before Go starts; this is the fallback for builds
// without cgo.
func pause() {
	for {
		_ = unix.Pause()
	}
}
