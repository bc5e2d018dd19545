package bridge

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDirKeepsSocketPathsShort: a network's run directory is named after
// the network while its attach socket's path fits a unix socket address,
// and after a hash of the name, the same each time and different for
// another name, when it would not (testcontainers names networks with
// 36-character UUIDs).
func TestDirKeepsSocketPathsShort(t *testing.T) {
	short := "/run/user/1000/lodger"
	if got := Dir(short, "c81de7f5-30c3-43ff-8624-6fcf733fb9e5"); got != short+"/networks/c81de7f5-30c3-43ff-8624-6fcf733fb9e5" {
		t.Errorf("Dir under a short run dir = %q; want the name", got)
	}
	long := "/tmp/lodger-e2e-1394055262/testapitestcontainers/run/lodger"
	a := Dir(long, "c81de7f5-30c3-43ff-8624-6fcf733fb9e5")
	b := Dir(long, "c81de7f5-30c3-43ff-8624-6fcf733fb9e6")
	if len(filepath.Join(a, attachSocket)) > maxSocketPath || !strings.HasPrefix(a, long+"/networks/h-") {
		t.Errorf("Dir under a long run dir = %q; want a hashed name whose socket path fits", a)
	}
	if a == b || a != Dir(long, "c81de7f5-30c3-43ff-8624-6fcf733fb9e5") {
		t.Errorf("Dir = %q and %q for two names; want one per name, the same each time", a, b)
	}
}
