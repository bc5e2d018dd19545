package main

import (
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/rootless/session"
	"github.com/lodger-containers/lodger/sysinfo"
)

// info shows how the session is made, and AppArmor's restriction with its
// fix (issue 19), also when no session and so no storage could be had.
func TestInfoTemplateSession(t *testing.T) {
	info := &sysinfo.Info{Session: session.Report{
		Configured:        session.HelperAuto,
		ConfiguredBy:      "default",
		Next:              session.HelperBuiltin,
		NextReason:        "kernel.apparmor_restrict_unprivileged_userns=1 and no profile allows /usr/local/bin/lodger-session or a rootlesskit",
		UsernsRestriction: "kernel.apparmor_restrict_unprivileged_userns",
		Problem:           "AppArmor restricts user namespaces on this host",
	}}
	var b strings.Builder
	if err := infoTemplate().Execute(&b, info); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"made by:       no session running\n",
		"helper:        auto (default); a new session: builtin, as kernel.apparmor_restrict_unprivileged_userns=1",
		"user namespaces: restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1)\n",
		"problem:       AppArmor restricts user namespaces on this host\n",
		"storage: unavailable without a session\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("info does not say %q:\n%s", want, b.String())
		}
	}
	info.Session = session.Report{Helper: session.HelperRootlesskit, HelperProgram: "/usr/bin/rootlesskit", Configured: session.HelperRootlesskit, ConfiguredBy: "lodger.toml"}
	info.Storage.Driver = "overlay"
	b.Reset()
	if err := infoTemplate().Execute(&b, info); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"made by:       rootlesskit (/usr/bin/rootlesskit)\n", "user namespaces: not restricted by AppArmor\n", "storage:\n  driver:        overlay\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("info does not say %q:\n%s", want, b.String())
		}
	}
}
