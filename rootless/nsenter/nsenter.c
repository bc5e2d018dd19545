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

// The run directory's checks (issue 12, finding 2), the same as
// rootless/rundir_linux.go's: without XDG_RUNTIME_DIR the run directory is
// /tmp/lodger-run-UID, a name any local user can create first, and a
// child_pid there chooses the namespaces this process enters. So the
// directory, its session subdirectory and the files read from it must be
// the user's own, with no group or other write permission, and are opened
// relative to each other with O_NOFOLLOW; and the pid is joined only when
// the keeper record beside child_pid (written by the lodger that started
// the keeper) still describes that very process: same pid, same start
// time, same boot. A process that got the pid later, such as one of the
// user's containers, has another start time. When anything fails the
// constructor does not join; the Go side then names the problem or starts
// a fresh keeper.
#define MAX_RECORD 128

static int private_ok(const struct stat *st, int want_dir) {
	if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return 0;
	return st->st_uid == getuid() && (st->st_mode & 022) == 0;
}

static int open_private_dir(int dirfd, const char *name) {
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !private_ok(&st, 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

// read_bounded reads at most MAX_RECORD bytes of fd into buf (which holds
// MAX_RECORD+2) and NUL-terminates it; longer content fails.
static int read_bounded(int fd, char *buf) {
	size_t n = 0;
	while (n <= MAX_RECORD) {
		ssize_t m = read(fd, buf + n, MAX_RECORD + 1 - n);
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0)
			return -1;
		if (m == 0)
			break;
		n += (size_t)m;
	}
	if (n == 0 || n > MAX_RECORD)
		return -1;
	buf[n] = 0;
	return 0;
}

// read_private_file: O_NONBLOCK so that a FIFO in the file's place cannot
// hang every lodger command.
static int read_private_file(int dirfd, const char *name, char *buf) {
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	int ok = fstat(fd, &st) == 0 && private_ok(&st, 0) && read_bounded(fd, buf) == 0;
	close(fd);
	return ok ? 0 : -1;
}

// parent_ok: the directory holding the run directory must not let anyone
// but the user and root rename it away (owner, or sticky when shared).
static int parent_ok(const char *dir) {
	char parent[PATH_MAX];
	struct stat st;
	const char *slash = strrchr(dir, '/');
	size_t len = slash ? (size_t)(slash - dir) : 0;
	if (len == 0)
		len = 1; // "/"
	if (len >= sizeof(parent))
		return 0;
	memcpy(parent, dir, len);
	parent[len] = 0;
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (st.st_uid != getuid() && st.st_uid != 0)
		return 0;
	return (st.st_mode & 022) == 0 || (st.st_mode & S_ISVTX);
}

// parse_ulong parses decimal digits at *p, skipping leading blanks, and
// moves *p past them.
static int parse_ulong(const char **p, unsigned long long *out) {
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	*out = strtoull(s, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

static int only_space(const char *s) {
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	return *s == 0;
}

struct keeper_record {
	int pid;
	unsigned long long start;
	char boot[64];
};

// read_boot_id reads the kernel's boot id into out (64 bytes).
static int read_boot_id(char *out) {
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, out, 63);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = 0;
	out[strcspn(out, " \t\n")] = 0;
	return 0;
}

// proc_stat reads the parent (field 4) and the start time (field 22) of
// /proc/PID/stat, counting fields from the last ')' since the command name
// may hold anything.
static int proc_stat(int pid, int *ppid, unsigned long long *start) {
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	// After ')' comes field 3; skip fields 3..21, reading 4 on the way.
	for (int field = 3; field < 22; field++) {
		if (field == 4) {
			unsigned long long v;
			const char *q = p;
			if (parse_ulong(&q, &v) < 0 || v > INT_MAX)
				return -1;
			*ppid = (int)v;
		}
		while (*p == ' ')
			p++;
		if (!*p)
			return -1;
		while (*p && *p != ' ')
			p++;
	}
	const char *q = p;
	return parse_ulong(&q, start);
}

// find_keeper reads child_pid and the keeper record from the checked run
// directory; -1 when anything is missing or fails a check.
static int find_keeper(struct keeper_record *rec) {
	char dir[PATH_MAX], buf[MAX_RECORD + 2];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/lodger", xdg);
	else
		n = snprintf(dir, sizeof(dir), "/tmp/lodger-run-%u", (unsigned)getuid());
	if (n <= 0 || (size_t)n >= sizeof(dir) || !parent_ok(dir))
		return -1;
	int dirfd = open_private_dir(AT_FDCWD, dir);
	if (dirfd < 0)
		return -1;
	int sessfd = open_private_dir(dirfd, "session");
	close(dirfd);
	if (sessfd < 0)
		return -1;
	unsigned long long pid, rpid;
	const char *p = buf;
	int ok = read_private_file(sessfd, "child_pid", buf) == 0 &&
		 parse_ulong(&p, &pid) == 0 && only_space(p);
	if (ok) {
		p = buf;
		ok = read_private_file(sessfd, "keeper", buf) == 0 &&
		     parse_ulong(&p, &rpid) == 0 && parse_ulong(&p, &rec->start) == 0 &&
		     sscanf(p, " %63s", rec->boot) == 1;
	}
	close(sessfd);
	if (!ok || pid == 0 || pid > INT_MAX || rpid != pid)
		return -1;
	rec->pid = (int)pid;
	return rec->pid;
}

// same_user_ns reports whether pid is the user's and in our user
// namespace (1), the user's and in another (0), or neither (-1).
static int same_user_ns(int pid) {
	char path[64], mine[64], theirs[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) < 0 || st.st_uid != getuid())
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	ssize_t a = readlink(path, theirs, sizeof(theirs) - 1);
	ssize_t b = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
	if (a <= 0 || b <= 0)
		return -1;
	theirs[a] = 0;
	mine[b] = 0;
	return strcmp(theirs, mine) == 0;
}

// still_keeper checks that the process at rec->pid is the recorded one and
// the user's, in a user namespace other than ours, and that its parent is
// the user's in ours: the keeper. A container process's parent is its
// monitor, inside the session, whatever a forged record says.
static int still_keeper(const struct keeper_record *rec) {
	char boot[64];
	unsigned long long start;
	int ppid = 0; // set by proc_stat on success
	if (read_boot_id(boot) < 0 || strcmp(boot, rec->boot) != 0)
		return 0;
	if (proc_stat(rec->pid, &ppid, &start) < 0 || start != rec->start)
		return 0;
	return same_user_ns(rec->pid) == 0 && same_user_ns(ppid) == 1;
}

// join enters the namespaces of rec's process. The namespace files are
// opened first and the process checked after: had the keeper died and its
// pid gone to another process before the open, that process's start time
// would differ now, so the files opened are the keeper's.
static int join(const struct keeper_record *rec) {
	char path[64], cwd[PATH_MAX];
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", rec->pid);
	int userfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", rec->pid);
	int mntfd = open(path, O_RDONLY | O_CLOEXEC);
	if (userfd < 0 || mntfd < 0 || !still_keeper(rec)) {
		if (userfd >= 0)
			close(userfd);
		if (mntfd >= 0)
			close(mntfd);
		errno = ESRCH;
		return -1;
	}
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
	struct keeper_record rec;
	if (!want && geteuid() == 0)
		return; // real root needs no session namespace
	int pid = find_keeper(&rec);
	if (want) {
		// The lodger that started the keeper recorded it and re-executed
		// this process to join it.
		if (pid <= 0 || pid != atoi(want)) {
			fprintf(stderr, "lodger: session process %s is gone; run the command again\n", want);
			exit(125);
		}
		if (join(&rec) < 0) {
			fprintf(stderr, "lodger: join session namespaces of pid %d: %s\n", pid, strerror(errno));
			exit(125);
		}
	} else if (pid <= 0 || join(&rec) < 0) {
		return; // the Go side names the problem or starts a keeper
	}
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "lodger: become root in the session namespace: %s\n", strerror(errno));
		exit(125);
	}

	lodger_joined_pid = pid;
	lodger_host_uid = uid;
	lodger_host_gid = gid;
}
