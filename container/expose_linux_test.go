package container

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExposedPorts(t *testing.T) {
	got, err := exposedPorts(map[string]struct{}{"80/tcp": {}}, []string{"53/udp", "8000-8002"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"}
	if d := cmp.Diff(want, slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})); d != "" {
		t.Errorf("exposed (-want +got):\n%s", d)
	}
	for _, bad := range []string{"abc", "0", "70000", "9-8", "80/sctp"} {
		if _, err := exposedPorts(nil, []string{bad}); err == nil {
			t.Errorf("--expose %q accepted", bad)
		}
	}
}
