package exec

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxIDFile bounds how much of an image's /etc/passwd or /etc/group is read.
const maxIDFile = 4 << 20

// ErrUnknownUser says that a user or group name is absent from the image.
var ErrUnknownUser = errors.New("no such user in the image")

// ResolvedUser is a process identity resolved from the image's own files.
type ResolvedUser struct {
	User specs.User
	Home string
}

// ResolveUser turns USER[:GROUP] (names or numbers; empty means root) into
// ids, supplementary groups and HOME, from rootfs/etc/passwd and
// rootfs/etc/group. The files are opened inside rootfs, so a symlink in the
// image cannot point the lookup at a host file, and only regular files are
// read (a FIFO or /dev/zero planted there would hang or exhaust us).
func ResolveUser(rootfs, spec string) (ResolvedUser, error) {
	if spec == "" {
		spec = "0"
	}
	passwd, closeP := openIDFile(rootfs, "/etc/passwd")
	defer closeP()
	group, closeG := openIDFile(rootfs, "/etc/group")
	defer closeG()
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUser(spec, defaults, passwd, group)
	if err != nil {
		return ResolvedUser{}, fmt.Errorf("user %q: %w", spec, unknownUser(err))
	}
	r := ResolvedUser{
		User: specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Username: userName(spec)},
		Home: eu.Home,
	}
	for _, g := range eu.Sgids {
		if uint32(g) != r.User.GID {
			r.User.AdditionalGids = append(r.User.AdditionalGids, uint32(g))
		}
	}
	return r, nil
}

func userName(spec string) string {
	name, _, _ := strings.Cut(spec, ":")
	return name
}

func unknownUser(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "no matching entries") || strings.Contains(msg, "unable to find") {
		return fmt.Errorf("%w (%s)", ErrUnknownUser, msg)
	}
	return err
}

// openIDFile returns a reader for path inside rootfs, or nil when the file
// is missing or not a regular file.
func openIDFile(rootfs, path string) (io.Reader, func()) {
	f, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		return nil, func() {}
	}
	// OpenInRoot gives an O_PATH handle; reopen it for reading without
	// following anything and without blocking on a FIFO.
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, func() {}
	}
	rf, err := pathrs.Reopen(f, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	f.Close()
	if err != nil {
		return nil, func() {}
	}
	return io.LimitReader(rf, maxIDFile), func() { rf.Close() }
}

// ResolveGroup turns a group name or number into a gid, names looked up
// in the image's own /etc/group.
func ResolveGroup(rootfs, group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	r, closeG := openIDFile(rootfs, "/etc/group")
	defer closeG()
	if r == nil {
		return 0, fmt.Errorf("%w: no /etc/group in the image for %q", ErrUnknownUser, group)
	}
	groups, err := user.ParseGroupFilter(r, func(g user.Group) bool { return g.Name == group })
	if err != nil {
		return 0, err
	}
	if len(groups) == 0 {
		return 0, fmt.Errorf("%w: group %q", ErrUnknownUser, group)
	}
	return uint32(groups[0].Gid), nil
}
