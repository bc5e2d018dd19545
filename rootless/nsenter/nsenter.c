//go:build linux && cgo

// Joining the session user and mount namespaces before the Go runtime starts.
//
// setns(CLONE_NEWUSER) is refused to a multithreaded process, and the Go
// runtime has started several threads before main runs. So this constructor
// runs first, while the process still has one thread, finds the session's
// keeper process and joins its user and mount namespaces. The Go side then
// finds itself uid 0 in the session namespace and never has to re-exec for
// the common case. The pid file and the checks below are described in
// docs/architecture.md ("Session namespace").
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

// Environment keys shared with rootless/session.go.
#define ENV_NOJOIN "_LODGER_NOJOIN"       // never join (session keeper, container init)
#define ENV_JOINPID "_LODGER_JOIN_PID"    // join this pid, failure is fatal
#define ENV_JOINED "_LODGER_JOINED"       // set after joining; children inherit it

// What the constructor did, for nsenter.go: the Go runtime reads the
// environment from the process's initial stack, so setenv here would be
// invisible to os.Getenv; Go copies these into its environment in init.
int lodger_joined_pid = 0;
unsigned lodger_host_uid = 0, lodger_host_gid = 0;

static int read_pid_file(const char *path) {
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *end;
	long pid = strtol(buf, &end, 10);
	if (pid <= 0 || pid > INT_MAX)
		return -1;
	return (int)pid;
}

// session_pid_path mirrors rootless.RunDir: $XDG_RUNTIME_DIR/lodger when set,
// else /tmp/lodger-run-UID.
static int session_pid_path(char *out, size_t len) {
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/lodger/session/child_pid", xdg);
	else
		n = snprintf(out, len, "/tmp/lodger-run-%u/session/child_pid", (unsigned)getuid());
	return n > 0 && (size_t)n < len ? 0 : -1;
}

// plausible_keeper guards against a stale pid file whose pid was reused: the
// process must belong to us and live in a user namespace other than ours.
static int plausible_keeper(int pid) {
	char path[64], mine[64], theirs[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) < 0 || st.st_uid != getuid())
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	ssize_t a = readlink(path, theirs, sizeof(theirs) - 1);
	ssize_t b = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
	if (a <= 0 || b <= 0)
		return 0;
	theirs[a] = 0;
	mine[b] = 0;
	return strcmp(theirs, mine) != 0;
}

static int join(int pid) {
	char path[64], cwd[PATH_MAX];
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	int userfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	int mntfd = open(path, O_RDONLY | O_CLOEXEC);
	if (userfd < 0 || mntfd < 0)
		return -1;
	if (setns(userfd, CLONE_NEWUSER) < 0 || setns(mntfd, CLONE_NEWNS) < 0) {
		int e = errno;
		close(userfd);
		close(mntfd);
		errno = e;
		return -1;
	}
	close(userfd);
	close(mntfd);
	// setns(CLONE_NEWNS) moves cwd to the namespace's root; the session mount
	// namespace is a copy of the host's, so the same path is still valid.
	if (have_cwd && chdir(cwd) < 0)
		chdir("/");
	return 0;
}

__attribute__((constructor)) static void lodger_nsenter(int argc, char **argv, char **envp) {
	(void)envp;
	// The process that holds the session namespaces open only sleeps; doing
	// that here keeps it at a few hundred KiB instead of a Go runtime's
	// tens of MiB.
	if (argc > 1 && strcmp(argv[1], "_lodger-pause") == 0) {
		for (;;)
			pause();
	}
	if (getenv(ENV_NOJOIN) || getenv(ENV_JOINED))
		return;

	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *want = getenv(ENV_JOINPID);
	int pid = -1;
	if (want) {
		pid = atoi(want);
		if (pid <= 0 || !plausible_keeper(pid)) {
			fprintf(stderr, "lodger: session process %s is gone; run the command again\n", want);
			exit(125);
		}
	} else {
		if (geteuid() == 0)
			return; // real root needs no session namespace
		char path[PATH_MAX];
		if (session_pid_path(path, sizeof(path)) < 0)
			return;
		pid = read_pid_file(path);
		if (pid < 0 || !plausible_keeper(pid))
			return; // the Go side starts a session and comes back with ENV_JOINPID
	}

	if (join(pid) < 0) {
		if (want) {
			fprintf(stderr, "lodger: join session namespaces of pid %d: %s\n", pid, strerror(errno));
			exit(125);
		}
		return;
	}
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "lodger: become root in the session namespace: %s\n", strerror(errno));
		exit(125);
	}

	lodger_joined_pid = pid;
	lodger_host_uid = uid;
	lodger_host_gid = gid;
}
