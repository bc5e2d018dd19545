package container

import (
	"testing"

	"go.podman.io/storage/pkg/idtools"
)

func TestSplitCopyArg(t *testing.T) {
	tests := []struct {
		arg, ctr, path string
	}{
		{"web:/etc/passwd", "web", "/etc/passwd"},
		{"web:etc", "web", "etc"},
		{"web:", "web", ""},
		{"/abs/a:b", "", "/abs/a:b"},
		{"./a:b", "", "./a:b"},
		{"../a:b", "", "../a:b"},
		{"plain", "", "plain"},
		{"-", "", "-"},
		{":x", "", ":x"},
		{"abc123:/a:b", "abc123", "/a:b"},
	}
	for _, tt := range tests {
		ctr, p := SplitCopyArg(tt.arg)
		if ctr != tt.ctr || p != tt.path {
			t.Errorf("SplitCopyArg(%q) = %q, %q; want %q, %q", tt.arg, ctr, p, tt.ctr, tt.path)
		}
	}
}

var identity = idMapper{idtools.NewIDMappingsFromMaps(nil, nil)}

func TestIDMapper(t *testing.T) {
	// --userns=keep-id for uid 1000: container 1000 is session 0,
	// container 0..999 are session 1..1000.
	m := idMapper{idtools.NewIDMappingsFromMaps(
		[]idtools.IDMap{{ContainerID: 1000, HostID: 0, Size: 1}, {ContainerID: 0, HostID: 1, Size: 1000}, {ContainerID: 1001, HostID: 1001, Size: 64535}},
		[]idtools.IDMap{{ContainerID: 0, HostID: 0, Size: 65536}})}
	if u, g := m.toSession(0, 0); u != 1 || g != 0 {
		t.Errorf("toSession(0, 0) = %d, %d; want 1, 0", u, g)
	}
	if u, _ := m.toContainer(0, 0); u != 1000 {
		t.Errorf("toContainer(0) = %d, want 1000", u)
	}
	if u, _ := m.toContainer(70000, 0); u != overflowID {
		t.Errorf("toContainer(70000) = %d, want the overflow id", u)
	}
	if u, g := identity.toSession(5, 6); u != 5 || g != 6 {
		t.Errorf("identity: %d, %d", u, g)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
