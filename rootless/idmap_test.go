package rootless

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUserNameAsksGetent: a user /etc/passwd does not list (one from
// LDAP or sssd) is named by getent, whose answer counts only for that
// uid; with neither, the number names the user.
func TestUserNameAsksGetent(t *testing.T) {
	const uid = 3987654 // in no /etc/passwd
	dir := t.TempDir()
	fake := filepath.Join(dir, "getent")
	answer := filepath.Join(dir, "answer")
	script := "#!/bin/sh\n[ \"$1 $2\" = \"passwd 3987654\" ] || exit 2\ncat " + answer + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old := getent
	getent = fake
	t.Cleanup(func() { getent = old })

	for _, c := range []struct{ answer, want string }{
		{"ldapuser:*:3987654:100:LDAP user:/home/ldapuser:/bin/sh\n", "ldapuser"},
		{"other:*:1234:100::/home/other:/bin/sh\n", "3987654"}, // not the entry asked for
		{"", "3987654"},
	} {
		if err := os.WriteFile(answer, []byte(c.answer), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := userName(uid); got != c.want {
			t.Errorf("getent answering %q: userName = %q, want %q", c.answer, got, c.want)
		}
	}
	getent = filepath.Join(dir, "missing")
	if got := userName(uid); got != "3987654" {
		t.Errorf("without getent: userName = %q, want the number", got)
	}
	if got := userName(0); got != "root" {
		t.Errorf("userName(0) = %q, want root (from /etc/passwd)", got)
	}
}
