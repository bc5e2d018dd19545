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
//
// Where AppArmor restricts user namespaces (Ubuntu 23.10 and later,
// kernel.apparmor_restrict_unprivileged_userns=1) only a program that an
// AppArmor profile with the userns rule confines may create one (issue 19).
// lodger ships that profile (AppArmorProfile, contrib/apparmor/lodger,
// installed by make install), names the restriction and the administrator's
// one-time fix when the keeper fails there, and can instead have the
// distribution's rootlesskit binary create the namespaces, which Ubuntu's
// own profile allows: rootlesskit runs with lodger's session directory as
// its state directory, so its child_pid is the file the C constructor
// already reads, and runs the pause process inside. The helper is chosen by
// LODGER_SESSION_HELPER or lodger.toml's [session] helper (auto, builtin,
// rootlesskit); auto takes rootlesskit only on a restricting kernel where a
// profile allows rootlesskit and none allows lodger-session.
package session
