//go:build e2e

package e2e

// User networks (issue 14): `network create` starts the network's
// namespace and gateway in the background, so the first container on it
// does not wait for them; a network removed at once leaves nothing behind.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gatewayProcesses are the pids of this user's gateway processes for
// network name in e, found by their command line.
func gatewayProcesses(e *env, name string) []int {
	want := []byte("network-gateway\x00" + filepath.Join(e.runtime, "lodger", "networks", name) + "\x00")
	var out []int
	for _, pid := range pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(b, want) {
			out = append(out, pid)
		}
	}
	return out
}

func TestUserNetworkCreateStartsGateway(t *testing.T) {
	e := isolatedEnv(t)

	// The gateway that create started serves the first container.
	netCreate(t, e, "--subnet", "10.90.31.0/24", "early")
	eventually(t, "the gateway of a network just created", func() bool { return gatewayPid(t, e, "early") > 0 })
	pid := gatewayPid(t, e, "early")
	r := e.runRm(t, "--network", "early", netImage(), "nettool", "ifaces")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "10.90.31.") {
		t.Errorf("the first container on a network just created has no address on it:\n%s", r)
	}
	if p := gatewayPid(t, e, "early"); p != pid {
		t.Errorf("the first run started gateway %d beside %d, the one network create started", p, pid)
	}

	// Removed before its gateway is up: no gateway process stays behind,
	// nor the network's run directory.
	for i := range 5 {
		name := fmt.Sprintf("gone%d", i)
		wantCode(t, e.lodger(t, "network", "create", name), 0)
		wantCode(t, e.lodger(t, "network", "rm", name), 0)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := range 5 {
		name := fmt.Sprintf("gone%d", i)
		for len(gatewayProcesses(e, name)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if ps := gatewayProcesses(e, name); len(ps) > 0 {
			t.Errorf("network %s removed right after create: its gateway %v still runs", name, ps)
		}
		if _, err := os.Stat(filepath.Join(e.runtime, "lodger", "networks", name)); err == nil {
			t.Errorf("network %s removed right after create: its run directory is still there", name)
		}
	}
}
