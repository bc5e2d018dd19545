package ports

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// capNetBindService is CAP_NET_BIND_SERVICE's bit, from linux/capability.h.
const capNetBindService = 10

// hasNetBindService reads the effective capability set from
// /proc/self/status rather than calling capget, which needs no cgo and no
// version handshake. In a user namespace the bit may be set yet not count
// for the host's network namespace; bind's EACCES covers that case.
func hasNetBindService() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, ok := strings.CutPrefix(s.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return err == nil && caps&(1<<capNetBindService) != 0
	}
	return false
}
