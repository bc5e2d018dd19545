package rootless

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRunDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	if got := RunDir(); got != "/run/user/4242/lodger" {
		t.Errorf("RunDir() = %q with XDG_RUNTIME_DIR set", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got, want := RunDir(), fmt.Sprintf("/tmp/lodger-run-%d", HostUID()); got != want {
		t.Errorf("RunDir() = %q without XDG_RUNTIME_DIR, want %q", got, want)
	}
}

func TestMissingNewuidmapNamesThePackage(t *testing.T) {
	m := IDMap{User: "carol", UIDs: []IDRange{{0, 1000, 1}, {1, 100000, 65536}}, GIDs: []IDRange{{0, 1000, 1}, {1, 100000, 65536}}}
	old := lookPath
	defer func() { lookPath = old }()
	lookPath = func(string) (string, error) { return "", errors.New("not found") }
	err := preflightHelpers(m)
	if err == nil || !strings.Contains(err.Error(), "uidmap") {
		t.Errorf("Preflight() without newuidmap = %v, want a message naming the uidmap package", err)
	}
}

func TestSingleIDWarningSaysHowToFix(t *testing.T) {
	w := SingleIDWarning("carol")
	for _, s := range []string{"carol", "/etc/subuid", "usermod --add-subuids"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q lacks %q", w, s)
		}
	}
	if strings.Contains(w, "\n") {
		t.Errorf("warning is not one line: %q", w)
	}
}
