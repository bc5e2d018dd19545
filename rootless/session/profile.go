package session

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ProfileFile is where lodger's AppArmor profile is installed.
const ProfileFile = "/etc/apparmor.d/lodger"

// Programs are lodger's programs that may create a user namespace: the
// keeper (the session's), and lodger, lodger-transfer (lodger's commands
// that pull, push or build, which start the session as lodger does) and
// lodger-monitor (a container's own namespace nested in the session,
// --userns).
var Programs = []string{"lodger", "lodger-transfer", "lodger-monitor", "lodger-session"}

// AppArmorProfile renders lodger's AppArmor profile for programs installed
// in bindir. contrib/apparmor/lodger is this text for /usr/local/bin (a
// unit test keeps them equal), and `make install` and `lodger system
// apparmor-profile` write it for the real directory.
func AppArmorProfile(bindir string) string {
	var b strings.Builder
	b.WriteString(`# AppArmor profile for lodger, lodger-transfer, lodger-monitor and lodger-session.
#
# Ubuntu 23.10 and later (kernel.apparmor_restrict_unprivileged_userns=1)
# let a program create user namespaces only under an AppArmor profile with
# the userns rule. These profiles confine nothing else: like Ubuntu's own
# for podman and rootlesskit, they name lodger's programs and allow them
# that. Generated for programs in ` + bindir + `; install and load it as root:
#
#   lodger system apparmor-profile | sudo tee ` + ProfileFile + ` >/dev/null
#   sudo apparmor_parser -r ` + ProfileFile + `

abi <abi/4.0>,
include <tunables/global>
`)
	for _, prog := range Programs {
		fmt.Fprintf(&b, `
profile %s %s flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/%s>
}
`, prog, filepath.Join(bindir, prog), prog)
	}
	return b.String()
}
