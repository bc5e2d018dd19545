package main

import (
	"math"
	"runtime/debug"
	"testing"
	"time"
)

// TestQuietStart: the collector is off at first, back at the default
// after startGCAfter, and a setting chosen meanwhile (the network's 400)
// is kept.
func TestQuietStart(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	for _, tc := range []struct {
		name   string
		choose int // a GOGC chosen during the quiet start; 0: none
		want   int
	}{{"nothing chosen", 0, 100}, {"chosen meanwhile", 400, 400}} {
		t.Run(tc.name, func(t *testing.T) {
			quietStart()
			if prev := debug.SetGCPercent(-1); prev != -1 {
				t.Errorf("GOGC at start %d, want off (-1)", prev)
			}
			if lim := debug.SetMemoryLimit(-1); lim != startGCLimit {
				t.Errorf("memory limit at start %d, want %d", lim, startGCLimit)
			}
			if tc.choose != 0 {
				debug.SetGCPercent(tc.choose)
			}
			time.Sleep(startGCAfter + 200*time.Millisecond)
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GOGC after the quiet start %d, want %d", got, tc.want)
			}
			if lim := debug.SetMemoryLimit(-1); lim != math.MaxInt64 {
				t.Errorf("memory limit after the quiet start %d, want none", lim)
			}
		})
	}
}
