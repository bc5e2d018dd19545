package session

// Helper is the way the keeper creates the session's namespaces.
type Helper string

const (
	// HelperAuto is HelperBuiltin, unless AppArmor restricts user
	// namespaces, no profile allows lodger's keeper and the
	// distribution's rootlesskit is allowed: then HelperRootlesskit.
	HelperAuto Helper = "auto"
	// HelperBuiltin: lodger-session creates the namespaces itself,
	// through rootlesskit's parent and child packages linked into it.
	HelperBuiltin Helper = "builtin"
	// HelperRootlesskit: the distribution's rootlesskit binary creates
	// them and runs lodger-session's pause process inside, as Docker's
	// rootless mode runs dockerd. On Ubuntu it is allowed user namespaces
	// by the profile the apparmor package ships for /usr/bin/rootlesskit,
	// so no administrator has to install lodger's (issue 19).
	HelperRootlesskit Helper = "rootlesskit"
)

// Report is what `lodger info` shows of the session.
type Report struct {
	// Helper made the running session: builtin or rootlesskit ("" when
	// no session is running).
	Helper Helper `json:"helper,omitempty"`
	// HelperProgram is the program that holds its namespaces.
	HelperProgram string `json:"helperProgram,omitempty"`
	// Configured is the helper asked for (auto, builtin, rootlesskit)
	// and ConfiguredBy where that came from (LODGER_SESSION_HELPER,
	// lodger.toml, default).
	Configured   Helper `json:"configured"`
	ConfiguredBy string `json:"configuredBy"`
	// Next is the helper a new session would use here, and why.
	Next       Helper `json:"next,omitempty"`
	NextReason string `json:"nextReason,omitempty"`
	// Rootlesskit is the path of the rootlesskit binary, if any.
	Rootlesskit string `json:"rootlesskit,omitempty"`
	// UsernsRestriction is the sysctl that makes AppArmor police user
	// namespaces, "" when none is set.
	UsernsRestriction string `json:"usernsRestriction,omitempty"`
	// KeeperProfile is the profile file that allows the keeper user
	// namespaces, "" when none does.
	KeeperProfile string `json:"keeperProfile,omitempty"`
	// Label is lodger's own AppArmor label, "" without AppArmor.
	Label string `json:"appArmorLabel,omitempty"`
	// Problem says what keeps a session from being made, with the fix.
	Problem string `json:"problem,omitempty"`
}
