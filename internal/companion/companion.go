// Package companion checks a program lodger starts from beside its own
// binary (lodger-monitor, lodger-transfer) before it is run: one that
// another user could write, or could have created, is refused.
package companion

import (
	"fmt"
	"os"
	"path/filepath"
)

// Check refuses the program at p when anyone may write it, or when it
// sits in a directory where anyone may create it: a lodger copied alone
// into /tmp would otherwise run, as its user, whatever another user put
// there under that name. Ownership cannot tell: in the session's user
// namespace every id but the user's reads as the overflow id, root's
// included.
func Check(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	name := filepath.Base(p)
	if fi.Mode()&0o002 != 0 {
		return fmt.Errorf("%s: anyone can write it (mode %s); lodger does not run it: make it writable by its owner alone", p, fi.Mode().Perm())
	}
	dir := filepath.Dir(p)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	if di.Mode()&0o002 != 0 {
		return fmt.Errorf("%s: anyone can create files in %s (mode %s), so lodger does not run %s from it: put lodger and %s in a directory only you or root can write", p, dir, di.Mode().Perm(), name, name)
	}
	return nil
}
