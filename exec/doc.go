// Package exec is lodger's runtime: it turns an OCI runtime spec into a
// running container process.
//
// Start compiles the spec into a small program of ops (program.go,
// prepare_linux.go): every path is resolved inside the root filesystem,
// mount points and the working directory are made, the command is looked
// up in the image (127 and 126 are known before anything starts), and the
// seccomp profile is assembled to BPF. It then re-executes the lodger
// binary, from a read-only bind mount of it, as "_lodger-init" in new
// mount, pid, uts, ipc, cgroup (and network, and for --userns=keep-id user)
// namespaces. The init is a C constructor (exec/nsinit) that reads the
// program on fd 3 and carries it out before the Go runtime starts: mounts,
// masks, pivot_root, capabilities, seccomp, identity, execve. It reports a
// failure as "CODE MESSAGE" on a close-on-exec pipe (fd 4); end of file
// means the exec happened. With a terminal, the init opens the pty inside
// the container's own devpts and passes the master back over a unix socket
// (fd 5). For lodger exec the program joins a running container's
// namespaces instead of creating them.
//
// Import the standard os/exec as osexec where both are needed.
package exec
