package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Environment keys shared with the C constructor in rootless/nsenter.
const (
	envNoJoin      = "_LODGER_NOJOIN"
	envJoinPID     = "_LODGER_JOIN_PID"
	envJoined      = "_LODGER_JOINED"
	envRootlessUID = "_CONTAINERS_ROOTLESS_UID"
	envRootlessGID = "_CONTAINERS_ROOTLESS_GID"
)

// HostUID is the invoking user's uid as the host sees it, also from inside
// the session namespace (where getuid returns 0).
func HostUID() int {
	if v, err := strconv.Atoi(os.Getenv(envRootlessUID)); err == nil && InSession() {
		return v
	}
	return os.Getuid()
}

// HostGID is HostUID's counterpart for the primary group.
func HostGID() int {
	if v, err := strconv.Atoi(os.Getenv(envRootlessGID)); err == nil && InSession() {
		return v
	}
	return os.Getgid()
}

// InSession reports whether this process runs inside the session namespace.
func InSession() bool { return os.Getenv(envJoined) != "" }

// JoinedPID is the pid whose namespaces the C constructor joined, 0 outside
// the session.
func JoinedPID() int {
	pid, _ := strconv.Atoi(os.Getenv(envJoined))
	return pid
}

// IsRealRoot reports whether lodger runs as root on the host, where it needs
// no session namespace.
func IsRealRoot() bool { return !InSession() && os.Geteuid() == 0 }

// NoJoinEnv returns the environment entry that keeps a re-executed lodger
// helper (container init, monitor) from joining the session a second time.
func NoJoinEnv() string { return envNoJoin + "=1" }

// JoinEnv returns the environment entry that makes the C constructor of a
// re-executed lodger join the session whose namespaces pid holds.
func JoinEnv(pid int) string { return envJoinPID + "=" + strconv.Itoa(pid) }

// RunDir is lodger's runtime directory: $XDG_RUNTIME_DIR/lodger, or
// /tmp/lodger-run-UID when XDG_RUNTIME_DIR is unset (su, cron, CI). The C
// constructor computes the same path; keep them in step.
func RunDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		return filepath.Join(x, "lodger")
	}
	return fmt.Sprintf("/tmp/lodger-run-%d", HostUID())
}
