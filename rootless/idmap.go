package rootless

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	osuser "os/user"
	"strconv"
	"strings"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/parent/idtools"
)

// IDRange is one line of a uid or gid map: Size ids from Host map to
// Container upwards.
type IDRange struct {
	Container int `json:"container"`
	Host      int `json:"host"`
	Size      int `json:"size"`
}

// IDMap is the mapping the session namespace uses.
type IDMap struct {
	User   string    `json:"user"`
	UIDs   []IDRange `json:"uidMap"`
	GIDs   []IDRange `json:"gidMap"`
	Single bool      `json:"singleID"` // no subordinate range: only the user's own id
}

// ErrNoSubIDs says the user has no range in /etc/subuid or /etc/subgid.
var ErrNoSubIDs = errors.New("no subordinate id range")

// LoadIDMap reads the invoking user's ranges from /etc/subuid and
// /etc/subgid as the session will map them: the user's own id to 0 and the
// ranges from 1 upwards.
func LoadIDMap() (IDMap, error) {
	uid, gid := HostUID(), HostGID()
	name := userName(uid)
	m := IDMap{
		User: name,
		UIDs: []IDRange{{0, uid, 1}},
		GIDs: []IDRange{{0, gid, 1}},
	}
	subu, subg, err := idtools.GetSubIDRanges(uid, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || len(subu) == 0 || len(subg) == 0 {
			m.Single = true
			return m, nil
		}
		return m, fmt.Errorf("read subordinate ids: %w", err)
	}
	next := 1
	for _, r := range subu {
		m.UIDs = append(m.UIDs, IDRange{next, r.Start, r.Length})
		next += r.Length
	}
	next = 1
	for _, r := range subg {
		m.GIDs = append(m.GIDs, IDRange{next, r.Start, r.Length})
		next += r.Length
	}
	return m, nil
}

// userName is the name of user uid, which /etc/subuid and /etc/subgid may
// list a range under (or under the number, which is the answer when
// nothing knows the name). lodger is built with osusergo, statically
// linked: os/user reads /etc/passwd only, so a user that a directory
// service knows (LDAP, sssd: common on the shared machines lodger is
// for) is asked of getent, which goes through glibc's NSS.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := osuser.LookupId(id); err == nil {
		return u.Username
	}
	if name, ok := getentName(id); ok {
		return name
	}
	return id
}

// getent is the program userName asks; tests replace it.
var getent = "getent"

// getentName asks getent for the passwd entry of id; its answer counts
// only when it is that entry (name:password:uid:...).
func getentName(id string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := osexec.CommandContext(ctx, getent, "passwd", id).Output()
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Split(line, ":")
	if len(f) < 3 || f[0] == "" || f[2] != id {
		return "", false
	}
	return f[0], true
}

// SingleIDWarning is the one line printed when the session maps one id.
func SingleIDWarning(user string) string {
	return fmt.Sprintf("lodger: warning: no range for %s in /etc/subuid and /etc/subgid; only your own id is mapped and image files owned by other ids get your id. Add one with: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", user, user)
}

// Preflight checks what creating the session namespace needs and returns an
// error that says what to install or change.
func Preflight() error {
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && len(b) > 0 && b[0] == '0' {
		return errors.New("unprivileged user namespaces are disabled: set kernel.unprivileged_userns_clone=1 (sysctl)")
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && len(b) > 0 && b[0] == '0' {
		return errors.New("user namespaces are disabled: set user.max_user_namespaces to a positive value (sysctl)")
	}
	m, err := LoadIDMap()
	if err != nil {
		return err
	}
	return preflightHelpers(m)
}

// preflightHelpers checks for the setuid helpers a subordinate range needs.
func preflightHelpers(m IDMap) error {
	if m.Single {
		fmt.Fprintln(os.Stderr, SingleIDWarning(m.User))
		return nil
	}
	for _, helper := range []string{"newuidmap", "newgidmap"} {
		if _, err := lookPath(helper); err != nil {
			return fmt.Errorf("%s not found: install the uidmap package (apt-get install uidmap, dnf install shadow-utils)", helper)
		}
	}
	return nil
}
