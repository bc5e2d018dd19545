package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeeperFailure(t *testing.T) {
	log := []byte("time=... level=warning msg=x\nnewuidmap 123 [0 1000 1] failed: newuidmap: write to uid_map failed: Operation not permitted\n")
	got := keeperFailure(log)
	if !strings.Contains(got, "/etc/subuid") {
		t.Errorf("keeperFailure() = %q, want advice about /etc/subuid", got)
	}
	if keeperFailure(nil) == "" {
		t.Error("keeperFailure(nil) is empty")
	}
}

// As the attacker: a lodger-session another user planted beside a lodger
// copied into a world-writable directory is not run as the user's
// session keeper; the user's own beside lodger is, and without one the
// keeper is lodger itself.
func TestKeeperBesideRefusesPlanted(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(shared, "lodger")
	planted := filepath.Join(shared, Program)
	for _, p := range []string{self, planted} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := keeperBeside(self); err != nil || got != planted {
		t.Errorf("keeperBeside in the user's own directory = %q, %v; want %s", got, err, planted)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if _, err := keeperBeside(self); err == nil || !strings.Contains(err.Error(), "anyone can create files in "+shared) {
		t.Errorf("keeperBeside in a world-writable directory: %v; want a refusal naming it", err)
	}
	if err := os.Remove(planted); err != nil {
		t.Fatal(err)
	}
	if got, err := keeperBeside(self); err != nil || got != self {
		t.Errorf("keeperBeside without lodger-session = %q, %v; want lodger itself", got, err)
	}
}
