package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const root = "/sys/fs/cgroup"

// Detect reads /proc/self/cgroup and the mounted hierarchies. A cgroup
// counts as delegated when this process may write its cgroup.procs: a v1
// hierarchy chowned to the user by root, or a v2 subtree systemd
// delegated (user@.service's Delegate=yes).
func Detect() Report {
	var r Report
	var st unix.Statfs_t
	switch {
	case unix.Statfs(root, &st) != nil:
		r.Mode = "none"
		return r
	case st.Type == unix.CGROUP2_SUPER_MAGIC:
		r.Mode = "v2"
	case unix.Statfs(filepath.Join(root, "unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		r.Mode = "hybrid"
	default:
		r.Mode = "v1"
	}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, path := parts[1], parts[2]
		if parts[0] == "0" && ctrls == "" {
			if r.Mode == "v2" {
				r.v2(filepath.Join(root, path))
			}
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			dir := filepath.Join(root, c, path)
			if !writable(dir) {
				continue
			}
			switch c {
			case "freezer":
				r.Freezer = dir
			case "memory":
				r.Memory = dir
			case "pids":
				r.Pids = dir
			case "cpu":
				r.CPU = dir
			}
		}
	}
	return r
}

func (r *Report) v2(dir string) {
	if !writable(dir) {
		return
	}
	r.Freezer, r.FreezerV2 = dir, true
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	for _, c := range strings.Fields(string(b)) {
		switch c {
		case "memory":
			r.Memory = dir
		case "pids":
			r.Pids = dir
		case "cpu":
			r.CPU = dir
		}
	}
}

// writable reports whether a child cgroup may be made in dir and
// processes moved into it.
func writable(dir string) bool {
	return unix.Access(dir, unix.W_OK) == nil && unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK) == nil
}

// IsV2 says whether dir is in a cgroup v2 (unified) hierarchy.
func IsV2(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, err
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC, nil
}
