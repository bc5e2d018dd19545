package session

import (
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
