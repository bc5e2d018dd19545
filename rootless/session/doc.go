// Package session enters and keeps lodger's session user namespace.
//
// The first command that needs the namespace starts a keeper: a detached
// lodger process that creates, through rootlesskit's parent and child
// packages, a user namespace (root inside is the invoking user; 1..N map to
// the user's /etc/subuid and /etc/subgid ranges through newuidmap and
// newgidmap) with its own mount namespace, and then sleeps. Its pid is kept in
// rootless.RunDir()/session/child_pid. Every later lodger process joins that
// namespace from the C constructor in rootless/nsenter before the Go runtime
// starts; a process that started before the keeper existed re-executes
// itself once to join.
//
// Without a subordinate id range the keeper maps the user alone (a single-id
// mapping) and lodger warns that image files owned by other ids cannot be
// represented.
package session
