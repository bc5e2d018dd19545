// Package exec is lodger's runtime: it turns an OCI runtime spec into a
// running container process.
//
// Start re-executes the lodger binary as the container init ("_lodger-init")
// in new mount, pid, uts and ipc namespaces (and a new network namespace for
// --network none) inside the session user namespace. The parent sends the
// spec over an inherited pipe; the init mounts /proc, /dev, /sys and the
// files lodger provides (/etc/hosts, /etc/hostname, /etc/resolv.conf) under
// the root filesystem, pivot_roots into it, takes the user's identity,
// resolves the command and execs it. The init reports a failure before exec
// over a close-on-exec pipe; end of file on that pipe means the exec
// succeeded. With a terminal, the init opens the pty inside the container's
// own devpts and passes the master to the parent over a unix socket.
//
// Import the standard os/exec as osexec where both are needed.
package exec
