// Package rootless is what every lodger process knows of the session user
// namespace: whether it runs inside it, the invoking user's host ids, the
// run directory and its checks (rundir.go: the user's own, private, no
// symbolic link, and the keeper record that says which process to join;
// issue 12), the environment that steers the C constructor in
// rootless/nsenter, and the id map with its preflight checks.
//
// Entering and keeping the session (the keeper, through rootlesskit) is
// package rootless/session, which only the CLI links: the container's
// monitor and init need none of it.
package rootless
