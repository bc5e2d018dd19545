//go:build linux && cgo

// The container init, run from a constructor before the Go runtime starts.
//
// lodger re-executes itself as "lodger-init _lodger-init" into the new
// namespaces. Starting the Go runtime (and the package initialisers of
// everything lodger links) costs tens of milliseconds per container; this
// constructor instead reads a small program that the Go side computed
// (exec/program.go: mounts, files, identity, the resolved command) and
// carries it out, ending in execve. The Go side did every lookup and
// decision; this file only performs syscalls in order.
//
// Wire format on fd 3: a sequence of ops, each one byte of opcode, a u32
// count of arguments, then each argument as u32 length and bytes (little
// endian). Failures are reported on fd 4 (close-on-exec) as
// "<exit code> <message>"; end of file on fd 4 means execve succeeded.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define FD_PROGRAM 3
#define FD_SYNC 4
#define FD_SOCKET 5 // unix socket to lodger: pty master, connect listener

#define MAX_ARGS 4096
#define MAX_PROGRAM (16 << 20)

static void fail(int code, const char *fmt, ...) {
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%d ", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	ssize_t w = write(FD_SYNC, buf, strlen(buf));
	(void)w;
	_exit(code);
}

static char *program;
static size_t program_len, pos;
static uint32_t first_arg_len; // length of the current op's first argument

static void read_program(void) {
	size_t cap = 64 << 10;
	program = malloc(cap);
	for (;;) {
		if (program_len == cap) {
			if (cap >= MAX_PROGRAM)
				fail(125, "init program too large");
			cap *= 2;
			program = realloc(program, cap);
		}
		if (!program)
			fail(125, "init program: out of memory");
		ssize_t n = read(FD_PROGRAM, program + program_len, cap - program_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(125, "read init program: %s", strerror(errno));
		}
		if (n == 0)
			break;
		program_len += n;
	}
	close(FD_PROGRAM);
}

static uint32_t read_u32(void) {
	if (pos + 4 > program_len)
		fail(125, "init program truncated");
	uint32_t v = (uint8_t)program[pos] | (uint8_t)program[pos + 1] << 8 |
		     (uint8_t)program[pos + 2] << 16 | (uint32_t)(uint8_t)program[pos + 3] << 24;
	pos += 4;
	return v;
}

// next_op decodes one op; args point into the program buffer, each
// NUL-terminated in place of the following length byte being consumed.
static int next_op(char **args, uint32_t *nargs) {
	if (pos >= program_len)
		return 0;
	int op = (uint8_t)program[pos++];
	uint32_t n = read_u32();
	if (n > MAX_ARGS)
		fail(125, "init program: too many arguments");
	// Copy each argument out so that it can be NUL-terminated.
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = read_u32();
		if (pos + len > program_len)
			fail(125, "init program truncated");
		char *s = malloc(len + 1);
		if (!s)
			fail(125, "init program: out of memory");
		if (i == 0)
			first_arg_len = len;
		memcpy(s, program + pos, len);
		s[len] = 0;
		args[i] = s;
		pos += len;
	}
	args[n] = NULL;
	*nargs = n;
	return op;
}

static unsigned long parse_ul(const char *s) { return strtoul(s, NULL, 10); }

static void need(uint32_t n, uint32_t want, int op) {
	if (n < want)
		fail(125, "init program: op %c needs %u arguments", op, want);
}

// op_mount: source, target, fstype, flags, data, fallback. A fallback of
// "=DATA" retries with DATA; "tolerate-eperm" accepts EPERM (a remount of
// a mount locked by the user namespace keeps its flags).
static void op_mount(char **a, uint32_t n) {
	need(n, 6, 'M');
	unsigned long flags = parse_ul(a[3]);
	const char *fstype = a[2][0] ? a[2] : NULL;
	if (mount(a[0], a[1], fstype, flags, a[4][0] ? a[4] : NULL) == 0)
		return;
	int e = errno;
	if (a[5][0] == '=' && mount(a[0], a[1], fstype, flags, a[5][1] ? a[5] + 1 : NULL) == 0)
		return;
	if (strcmp(a[5], "tolerate-eperm") == 0 && e == EPERM)
		return;
	fail(125, "mount %s on %s: %s", fstype ? fstype : a[0], a[1], strerror(e));
}

// open_beneath opens rel beneath the directory root with openat2's flags
// and resolve rules: the one way every op below reaches a path inside the
// container's root. Returns a descriptor, or -1 with errno.
static int open_beneath(const char *root, const char *rel, int flags, unsigned long long resolve) {
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -1;
	struct open_how how = {.flags = flags, .resolve = resolve};
	int fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	int e = errno;
	close(rootfd);
	errno = e;
	return fd;
}

// open_in_root opens rel beneath root the way the container will see it:
// symlinks resolve inside root and magic links (/proc/self/fd/N) are
// refused, so a path that a running container swaps for a symlink between
// lodger's check and this mount still lands inside the rootfs
// (CVE-2021-30465). It returns an O_PATH descriptor, or -1 with errno.
static int open_in_root(const char *root, const char *rel) {
	return open_beneath(root, rel, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

// same_place reports whether fd is root/rel, comparing the kernel's
// names of both.
static int same_place(const char *root, const char *rel, int fd) {
	char want[PATH_MAX], got[PATH_MAX], link[64];
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rootfd);
	ssize_t n = readlink(link, want, sizeof(want) - 1);
	close(rootfd);
	if (n <= 0)
		return 0;
	want[n] = 0;
	if (strcmp(rel, "/") != 0 && strlen(want) + strlen(rel) < sizeof(want))
		strcat(want, rel);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, got, sizeof(got) - 1);
	if (n <= 0)
		return 0;
	got[n] = 0;
	return strcmp(want, got) == 0;
}

// op_mount_in: root, path inside root, then op_mount's source, fstype,
// flags, data and fallback. The target is reached through an O_PATH
// descriptor opened with open_in_root.
static void op_mount_in(char **a, uint32_t n) {
	need(n, 7, 'I');
	int fd = open_in_root(a[0], a[1]);
	if (fd < 0)
		fail(125, "mount point %s in the container: %s", a[1], strerror(errno));
	// lodger resolved the path before; if it resolves elsewhere now, a
	// container swapped a directory for a symlink in between: refused, as
	// runc does, rather than mounting somewhere the user did not ask.
	if (!same_place(a[0], a[1], fd))
		fail(125, "mount point %s in the container changed while lodger set it up (a symlink swapped in?): refused", a[1]);
	char target[64];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	char *margs[6] = {a[2], target, a[3], a[4], a[5], a[6]};
	op_mount(margs, 6);
	close(fd);
}

// parent_in_root opens the directory that holds rel beneath root with no
// symbolic link anywhere on the way (RESOLVE_NO_SYMLINKS), and points
// *base at rel's last component. Mount points below a fresh tmpfs are
// made by the init after the tmpfs is mounted; where that tmpfs sits in a
// volume another container shares, that container can swap a directory
// on the way for a symlink (to / or the host's /tmp) in between, and a
// mkdir by path would follow it out of the rootfs (issue 12). Nothing
// on such a path is a symlink when lodger resolved it, so one now is a
// swap: refused. Returns -1 with errno on failure.
static int parent_in_root(const char *root, const char *rel, const char **base) {
	char parent[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	if (slash == NULL || strlen(rel) >= sizeof(parent)) {
		errno = EINVAL;
		return -1;
	}
	*base = slash + 1;
	size_t len = (size_t)(slash - rel);
	memcpy(parent, rel, len);
	parent[len] = 0;
	if (len == 0)
		strcpy(parent, "/");
	return open_beneath(root, parent, O_PATH | O_DIRECTORY | O_CLOEXEC,
			    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

// op_file: a path, or root and a path inside it (made beneath root, see
// parent_in_root).
static void op_file(char **a, uint32_t n) {
	need(n, 1, 'F');
	int dirfd = AT_FDCWD;
	const char *name = a[0];
	if (n >= 2 && (dirfd = parent_in_root(a[0], a[1], &name)) < 0)
		fail(125, "mount point %s in the container: %s (a symlink swapped in?)", a[1], strerror(errno));
	int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		struct stat st;
		int e = errno;
		if (e == EEXIST || (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))) {
			if (dirfd != AT_FDCWD)
				close(dirfd);
			return;
		}
		fail(125, "create mount point %s: %s", n >= 2 ? a[1] : a[0], strerror(e));
	}
	close(fd);
	if (dirfd != AT_FDCWD)
		close(dirfd);
}

// op_dir: a path, or root and a path inside it (made beneath root, see
// parent_in_root).
static void op_dir(char **a, uint32_t n) {
	need(n, 1, 'D');
	int dirfd = AT_FDCWD;
	const char *name = a[0];
	if (n >= 2 && (dirfd = parent_in_root(a[0], a[1], &name)) < 0)
		fail(125, "mount point %s in the container: %s (a symlink swapped in?)", a[1], strerror(errno));
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		fail(125, "create directory %s: %s", n >= 2 ? a[1] : a[0], strerror(errno));
	if (dirfd != AT_FDCWD)
		close(dirfd);
}

static void op_symlink(char **a, uint32_t n) {
	need(n, 2, 'L');
	if (symlink(a[0], a[1]) < 0)
		fail(125, "link %s: %s", a[1], strerror(errno));
}

static void op_pivot(char **a, uint32_t n) {
	need(n, 1, 'P');
	if (chdir(a[0]) < 0)
		fail(125, "enter root %s: %s", a[0], strerror(errno));
	// pivot_root(".", ".") stacks the old root under the new one; detaching
	// it leaves the container with no path back to the host's tree.
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(125, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		fail(125, "detach old root: %s", strerror(errno));
	if (chdir("/") < 0)
		fail(125, "chdir /: %s", strerror(errno));
}

static void op_loopback(void) {
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail(125, "loopback: %s", strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		fail(125, "bring up lo: %s", strerror(errno));
	close(fd);
}

// op_wait waits for lodger's go-ahead on FD_SOCKET: lodger runs the start
// hooks (the container's network interfaces) while this init makes its
// mounts, and says go once they are done. Anything else (end of file:
// lodger gave up or died) ends the init.
static void op_wait(void) {
	char c = 0;
	ssize_t n;
	while ((n = read(FD_SOCKET, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || c != 'g')
		_exit(125);
}

// send_fd passes fd to lodger over FD_SOCKET, with one byte saying what
// it is.
static int send_fd(int fd, char what) {
	struct iovec iov = {.iov_base = &what, .iov_len = 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(FD_SOCKET, &msg, 0) < 0 ? -1 : 0;
}

// op_terminal opens a pty in the container's own devpts, sends the master
// to lodger and makes the slave the controlling terminal and stdio.
static void op_terminal(void) {
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail(125, "open pty: %s", strerror(errno));
	int unlock = 0, num;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &num) < 0)
		fail(125, "set up pty: %s", strerror(errno));
	char path[64];
	snprintf(path, sizeof(path), "/dev/pts/%d", num);
	int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(125, "open %s: %s", path, strerror(errno));

	if (send_fd(master, 'p') < 0)
		fail(125, "send pty to lodger: %s", strerror(errno));
	close(FD_SOCKET);
	close(master);

	if (setsid() < 0)
		fail(125, "setsid: %s", strerror(errno));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(125, "set controlling terminal: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0)
			fail(125, "attach pty: %s", strerror(errno));
	close(slave);
}

static void op_identity(char **a, uint32_t n) {
	need(n, 2, 'U');
	uid_t uid = parse_ul(a[0]);
	gid_t gid = parse_ul(a[1]);
	gid_t groups[MAX_ARGS];
	size_t ng = 0;
	for (uint32_t i = 2; i < n; i++)
		groups[ng++] = parse_ul(a[i]);
	// A single-id session (no subordinate range) denies setgroups; there is
	// nothing to set there anyway.
	if (setgroups(ng, groups) < 0 && !(ng == 0 && errno == EPERM))
		fail(125, "set supplementary groups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		fail(125, "set gid %u: %s (is it inside the mapped range?)", gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		fail(125, "set uid %u: %s (is it inside the mapped range?)", uid, strerror(errno));
}

// op_chdir enters the working directory after pivot_root, refusing magic
// links such as /proc/self/fd/N that would lead outside the container
// (CVE-2024-21626).
// mkdir_in_root creates path and its missing parents inside the
// container, one component at a time, each parent opened the way
// open_in_root does (no magic links, symlinks kept inside).
static int mkdir_in_root(const char *path) {
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof(buf))
		return -1;
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char saved = *p;
		*p = 0;
		int fd = open_in_root("/", buf);
		if (fd >= 0) {
			close(fd);
		} else if (errno == ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = 0;
			int parent = open_in_root("/", slash == buf ? "/" : buf);
			*slash = '/';
			if (parent < 0)
				return -1;
			int r = mkdirat(parent, slash + 1, 0755);
			int e = errno;
			close(parent);
			if (r < 0 && e != EEXIST) {
				errno = e;
				return -1;
			}
		} else {
			return -1;
		}
		if (saved == 0)
			return 0;
		*p = saved;
	}
}

static void op_chdir(char **a, uint32_t n) {
	need(n, 1, 'C');
	int fd = open_in_root("/", a[0]);
	// A working directory under a mount (a tmpfs, a volume) is created where
	// the container sees it; lodger created it in the image layer, under.
	if (fd < 0 && errno == ENOENT && mkdir_in_root(a[0]) == 0)
		fd = open_in_root("/", a[0]);
	if (fd < 0 && errno == ELOOP)
		fail(125, "working directory %s leads through a magic link (/proc/self/fd/N): refused", a[0]);
	if (fd < 0 || fchdir(fd) < 0)
		fail(126, "working directory %s: %s", a[0], strerror(errno));
	// Symlinks inside the container (/dev/fd -> /proc/self/fd) can still
	// lead into procfs; a working directory there is refused.
	struct statfs sfs;
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
		fail(125, "working directory %s is inside /proc: refused", a[0]);
	close(fd);
}

// op_sysctl writes a value to root/rel, a file under the container's own
// /proc/sys, mounted fresh before any mask or read-only path: the
// namespaced sysctls (--sysctl) are written from inside the namespaces
// they belong to. No symlink is followed on the way.
static void op_sysctl(char **a, uint32_t n) {
	need(n, 3, 'G');
	int fd = open_beneath(a[0], a[1], O_WRONLY | O_CLOEXEC,
			      RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd < 0)
		fail(125, "sysctl %s: %s", a[1], strerror(errno));
	size_t len = strlen(a[2]);
	if (write(fd, a[2], len) != (ssize_t)len)
		fail(125, "sysctl %s=%s: %s", a[1], a[2], strerror(errno));
	close(fd);
}

static void op_hostname(char **a, uint32_t n) {
	need(n, 1, 'H');
	if (sethostname(a[0], strlen(a[0])) < 0)
		fail(125, "set hostname: %s", strerror(errno));
}

// op_bounding drops every capability not in the keep mask (decimal u64)
// from the bounding set and clears the ambient set. It runs while the init
// still holds CAP_SETPCAP.
static void op_bounding(char **a, uint32_t n) {
	need(n, 1, 'K');
	unsigned long long keep = strtoull(a[0], NULL, 10);
	int last = 40;
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[16] = {0};
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			last = atoi(buf);
		close(fd);
	}
	for (int c = 0; c <= last && c < 64; c++)
		if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail(125, "drop capability %d from the bounding set: %s", c, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(125, "clear ambient capabilities: %s", strerror(errno));
}

// op_capset sets the effective and permitted sets to the first mask and
// the inheritable set to the second, empty unless a non-root user asked
// for capabilities (CVE-2022-27649: a non-empty inheritable set let execve
// of file capabilities raise privileges).
static void op_capset(char **a, uint32_t n) {
	need(n, 2, 'A');
	unsigned long long mask = strtoull(a[0], NULL, 10);
	unsigned long long inh = strtoull(a[1], NULL, 10);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)mask;
	data[1].effective = data[1].permitted = (uint32_t)(mask >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(125, "set capabilities: %s", strerror(errno));
}

// op_keepcaps keeps the permitted set across the change to a non-root
// uid, for the capabilities such a user asked for with --cap-add.
static void op_keepcaps(void) {
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(125, "keep capabilities: %s", strerror(errno));
}

// op_ambient raises the ambient capabilities in the mask, so that a
// non-root user's command keeps what it asked for across execve.
static void op_ambient(char **a, uint32_t n) {
	need(n, 1, 'B');
	unsigned long long mask = strtoull(a[0], NULL, 10);
	for (int c = 0; c < 64; c++)
		if ((mask & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(125, "raise ambient capability %d: %s", c, strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static void op_nonewprivs(void) {
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(125, "set no_new_privs: %s", strerror(errno));
}

// op_seccomp installs a BPF filter given as raw struct sock_filter bytes.
static void op_seccomp(char **a, uint32_t n, uint32_t len) {
	need(n, 1, 'S');
	if (len % sizeof(struct sock_filter) != 0 || len == 0)
		fail(125, "seccomp filter has a bad size %u", len);
	struct sock_fprog prog = {.len = len / sizeof(struct sock_filter), .filter = (struct sock_filter *)a[0]};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		fail(125, "install seccomp filter: %s", strerror(errno));
}

// op_connect_trap installs the filter that turns connect(2) into a
// notification (SECCOMP_FILTER_FLAG_NEW_LISTENER) and sends its listener
// to lodger, whose network serves it: the bypass of the userspace stack.
// The init keeps no copy; with lodger gone, connect fails with ENOSYS.
static void op_connect_trap(char **a, uint32_t n, uint32_t len) {
	need(n, 1, 'V');
	if (len % sizeof(struct sock_filter) != 0 || len == 0)
		fail(125, "connect filter has a bad size %u", len);
	struct sock_fprog prog = {.len = len / sizeof(struct sock_filter), .filter = (struct sock_filter *)a[0]};
	int listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0)
		fail(125, "install connect filter: %s", strerror(errno));
	if (send_fd(listener, 'c') < 0)
		fail(125, "send connect listener to lodger: %s", strerror(errno));
	close(listener);
}

// open_masked opens a masked or read-only path inside root once /proc
// and /sys are mounted, following no symlink at all: whatever the image
// planted, the mount lands on the kernel's own file or nowhere. -1 with
// errno ENOENT means the kernel has no such file.
static int open_masked(const char *root, const char *path) {
	return open_beneath(root, path, O_PATH | O_CLOEXEC | O_NOFOLLOW,
			    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS);
}

// empty_dir is the first masked directory's empty tmpfs, bound over the
// others.
static int empty_dir = -1;

// op_mask hides a path: a directory under an empty read-only tmpfs, a file
// under /dev/null.
static void op_mask(char **a, uint32_t n) {
	need(n, 2, 'X');
	int fd = open_masked(a[0], a[1]);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		fail(125, "mask %s: %s", a[1], strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		fail(125, "mask %s: %s", a[1], strerror(errno));
	char target[64];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	int r;
	if (!S_ISDIR(st.st_mode)) {
		r = mount("/dev/null", target, NULL, MS_BIND, NULL);
	} else if (empty_dir < 0) {
		// The first masked directory gets an empty read-only tmpfs; the
		// others are binds of it, which cost less than new superblocks.
		r = mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0,mode=0555");
		if (r == 0)
			empty_dir = open_masked(a[0], a[1]);
	} else {
		char src[64];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", empty_dir);
		r = mount(src, target, NULL, MS_BIND, NULL);
	}
	if (r < 0)
		fail(125, "mask %s: %s", a[1], strerror(errno));
	close(fd);
}

// op_readonly makes a path a read-only bind of itself.
static void op_readonly(char **a, uint32_t n) {
	need(n, 2, 'R');
	int fd = open_masked(a[0], a[1]);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	}
	char target[64];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	close(fd);
	// Reopen: the descriptor still names the mount underneath.
	fd = open_masked(a[0], a[1]);
	if (fd < 0)
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	close(fd);
}

// op_readonly_tree makes a mount and every mount below it read-only, with
// mount_setattr(AT_RECURSIVE).
static void op_readonly_tree(char **a, uint32_t n) {
	need(n, 2, 'W');
	int fd = open_in_root(a[0], a[1]);
	if (fd < 0)
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		fail(125, "make %s read-only: %s", a[1], strerror(errno));
	close(fd);
}

// op_rlimit: resource number, soft, hard ("-1" is unlimited).
static void op_rlimit(char **a, uint32_t n) {
	need(n, 3, 'Z');
	struct rlimit rl;
	rl.rlim_cur = strcmp(a[1], "-1") == 0 ? RLIM_INFINITY : strtoull(a[1], NULL, 10);
	rl.rlim_max = strcmp(a[2], "-1") == 0 ? RLIM_INFINITY : strtoull(a[2], NULL, 10);
	if (setrlimit(atoi(a[0]), &rl) < 0)
		fail(125, "--ulimit %s: %s (a user namespace cannot raise a hard limit)", a[0], strerror(errno));
}

// op_reaper makes this process a minimal init (--init): it forks, the child
// goes on to exec the command, and this process stays pid 1, forwarding
// signals to the child and reaping every orphan until the child exits,
// then exits with the child's status.
static void op_reaper(void) {
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0)
		fail(125, "fork for --init: %s", strerror(errno));
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	// The child reports exec failures on the sync pipe itself; lodger must
	// see end of file once the child has exec'd.
	close(FD_SYNC);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t p;
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			if (p != child)
				continue;
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
			_exit(WEXITSTATUS(status));
		}
	}
}

// op_join enters the namespaces of a running container (lodger exec). The
// arguments are "TYPE:PATH" pairs in the order to enter; every descriptor
// is opened first, since entering the mount namespace changes what /proc
// paths mean. A process cannot enter its own user namespace again, so
// EINVAL there is not an error.
static void op_join(char **a, uint32_t n) {
	int fds[16], types[16];
	if (n > 16)
		fail(125, "too many namespaces to join");
	// Non-dumpable from here to execve (which makes the user's process
	// dumpable again): once in the container's pid namespace, a process
	// there must not ptrace this one or open its /proc/PID/fd, which
	// still hold lodger's descriptors (CVE-2016-9962, runc's nsexec does
	// the same; issue 12).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(125, "make the joining process non-dumpable: %s", strerror(errno));
	for (uint32_t i = 0; i < n; i++) {
		char *colon = strchr(a[i], ':');
		if (!colon)
			fail(125, "init program: bad namespace %s", a[i]);
		*colon = 0;
		const char *t = a[i];
		types[i] = strcmp(t, "user") == 0 ? CLONE_NEWUSER : strcmp(t, "mount") == 0 ? CLONE_NEWNS
			 : strcmp(t, "pid") == 0 ? CLONE_NEWPID : strcmp(t, "network") == 0 ? CLONE_NEWNET
			 : strcmp(t, "ipc") == 0 ? CLONE_NEWIPC : strcmp(t, "uts") == 0 ? CLONE_NEWUTS
			 : strcmp(t, "cgroup") == 0 ? CLONE_NEWCGROUP : 0;
		if (!types[i])
			fail(125, "init program: unknown namespace %s", t);
		fds[i] = open(colon + 1, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			fail(125, "open %s namespace of the container: %s (has it exited?)", t, strerror(errno));
	}
	for (uint32_t i = 0; i < n; i++) {
		if (setns(fds[i], types[i]) < 0 && !(types[i] == CLONE_NEWUSER && errno == EINVAL))
			fail(125, "enter the container's %s namespace: %s", a[i], strerror(errno));
		close(fds[i]);
	}
}

// op_exec: path, argc, argv..., env...
static void op_exec(char **a, uint32_t n) {
	need(n, 2, 'E');
	unsigned long argc = parse_ul(a[1]);
	if (argc + 2 > n)
		fail(125, "init program: bad argument count");
	char **argv = &a[2];
	char **envp = malloc(sizeof(char *) * (n - 2 - argc + 1));
	size_t k = 0;
	for (uint32_t i = 2 + argc; i < n; i++)
		envp[k++] = a[i];
	envp[k] = NULL;
	char *saved = argv[argc];
	argv[argc] = NULL;
	// Only 0, 1 and 2 reach the container process: everything else lodger
	// may hold closes on exec (fd 4, the sync pipe, closes last, by exec).
	syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	execve(a[0], argv, envp);
	int e = errno;
	argv[argc] = saved;
	fail(e == ENOENT ? 127 : 126, "exec %s: %s", argv[0], strerror(e));
}

// linger holds the descriptors lodger handed it (fd 3 and up: a finished
// container's TAP device) until lodger has exited (end of file on fd 0),
// then exits. The kernel's teardown of the device, an RCU grace period
// of some 10 ms, then happens in this process's exit, which nobody waits
// for, instead of in lodger's, which the user's shell waits for.
static void linger(void) {
	char c;
	// Started as /proc/self/exe, it would be "exe" in ps and top.
	prctl(PR_SET_NAME, "lodger-linger", 0, 0, 0);
	syscall(SYS_close_range, 1, 2, 0);
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

__attribute__((constructor)) static void lodger_nsinit(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc >= 2 && strcmp(argv[1], "_lodger-linger") == 0)
		linger();
	if (argc < 2 || strcmp(argv[1], "_lodger-init") != 0)
		return;
	// Descriptors lodger's own caller leaked to it (not close-on-exec)
	// must not reach the container, not even through the --init reaper,
	// which never execs: only 0-2 and lodger's pipes 3-5 stay.
	syscall(SYS_close_range, FD_SOCKET + 1, ~0U, 0);
	fcntl(FD_SYNC, F_SETFD, FD_CLOEXEC);
	read_program();
	char *args[MAX_ARGS + 1];
	uint32_t n;
	int op;
	while ((op = next_op(args, &n)) != 0) {
		switch (op) {
		case 'M': op_mount(args, n); break;
		case 'I': op_mount_in(args, n); break;
		case 'F': op_file(args, n); break;
		case 'D': op_dir(args, n); break;
		case 'L': op_symlink(args, n); break;
		case 'P': op_pivot(args, n); break;
		case 'O': op_loopback(); break;
		case 'T': op_terminal(); break;
		case 'U': op_identity(args, n); break;
		case 'C': op_chdir(args, n); break;
		case 'H': op_hostname(args, n); break;
		case 'G': op_sysctl(args, n); break;
		case 'E': op_exec(args, n); break;
		case 'K': op_bounding(args, n); break;
		case 'A': op_capset(args, n); break;
		case 'N': op_nonewprivs(); break;
		case 'S': op_seccomp(args, n, first_arg_len); break;
		case 'V': op_connect_trap(args, n, first_arg_len); break;
		case 'X': op_mask(args, n); break;
		case 'R': op_readonly(args, n); break;
		case 'W': op_readonly_tree(args, n); break;
		case 'Z': op_rlimit(args, n); break;
		case 'Q': op_reaper(); break;
		case 'J': op_join(args, n); break;
		case 'Y': op_keepcaps(); break;
		case 'B': op_ambient(args, n); break;
		case 'g': op_wait(); break;
		default: fail(125, "init program: unknown op %d", op);
		}
	}
	fail(125, "init program ended without exec");
}
