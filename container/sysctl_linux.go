package container

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ErrSysctl says a --sysctl cannot be set in a container.
var ErrSysctl = errors.New("sysctl not allowed")

var sysctlName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_]+(\.[a-zA-Z0-9_-]+)+$`) })

// ParseSysctls checks --sysctl NAME=VALUE flags against the namespaced
// sysctls Docker allows: kernel.shm*, kernel.msg*, kernel.sem and
// fs.mqueue.* (the IPC namespace's, so not with --ipc host) and net.*
// (the network namespace's, so only in a network of the container's own,
// not with --network host). Any other would change the host, or is not
// the container's to change.
func ParseSysctls(flags []string, network, ipc string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		if !ok || !sysctlName().MatchString(name) {
			return nil, optionError(OptSysctl, strconv.Quote(f), "want NAME=VALUE", nil)
		}
		switch {
		case strings.HasPrefix(name, "kernel.shm"), strings.HasPrefix(name, "kernel.msg"), name == "kernel.sem", strings.HasPrefix(name, "fs.mqueue."):
			if ipc == "host" {
				return nil, optionError(OptSysctl, name, ErrSysctl.Error()+" with the host's IPC namespace: it would change the host's", ErrSysctl)
			}
		case strings.HasPrefix(name, "net."):
			if network == NetworkHost {
				return nil, optionError(OptSysctl, name, ErrSysctl.Error()+" with the host's network: it would change the host's", ErrSysctl)
			}
		default:
			return nil, optionError(OptSysctl, name, ErrSysctl.Error()+": not namespaced (only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* are)", ErrSysctl)
		}
		out[name] = value
	}
	return out, nil
}
