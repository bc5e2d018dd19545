package container

import (
	"fmt"
	"testing"

	"github.com/lodger-containers/lodger/container/monitor"
)

// TestRemovingState: a --rm container whose state is gone (its run
// directory removed by its cleanup before the record) reads as exited
// with the exit code the cleanup kept; anything else reads as it is.
func TestRemovingState(t *testing.T) {
	three := 3
	kept := func() (int, bool) { return 7, true }
	none := func() (int, bool) { return 0, false }
	for _, tc := range []struct {
		name   string
		st     monitor.State
		remove bool
		kept   func() (int, bool)
		want   string
	}{
		{"--rm, state gone, code kept", monitor.State{Status: monitor.StatusCreated}, true, kept, "exited 7"},
		{"--rm, monitor gone, code kept", monitor.State{Status: monitor.StatusExited}, true, kept, "exited 7"},
		{"--rm, created, nothing kept", monitor.State{Status: monitor.StatusCreated}, true, none, "created -"},
		{"--rm, exited with its code", monitor.State{Status: monitor.StatusExited, ExitCode: &three}, true, kept, "exited 3"},
		{"--rm, running", monitor.State{Status: monitor.StatusRunning}, true, kept, "running -"},
		{"no --rm", monitor.State{Status: monitor.StatusCreated}, false, kept, "created -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := removingState(tc.st, tc.remove, tc.kept)
			got := fmt.Sprint(st.Status, " -")
			if st.ExitCode != nil {
				got = fmt.Sprint(st.Status, " ", *st.ExitCode)
			}
			if got != tc.want {
				t.Errorf("removingState = %q, want %q", got, tc.want)
			}
		})
	}
}
