package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestQuietStart: the collector is off at first, back at the default
// once startGCAfter has passed, and a setting chosen meanwhile (the
// network's 400) is kept.
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
			goroutines := runtime.NumGoroutine()
			start := time.Now()
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
			// The timer's function lifts the memory limit first, then
			// sets GOGC, then returns with its goroutine: wait for both,
			// reading the settings without changing them.
			deadline := start.Add(10 * time.Second)
			for gcSetting(t, "/gc/gomemlimit:bytes") != math.MaxInt64 || runtime.NumGoroutine() > goroutines {
				if time.Now().After(deadline) {
					t.Fatalf("the quiet start has not ended after 10 s (memory limit %d, %d goroutines, were %d)",
						gcSetting(t, "/gc/gomemlimit:bytes"), runtime.NumGoroutine(), goroutines)
				}
				time.Sleep(time.Millisecond)
			}
			if d := time.Since(start); d < startGCAfter {
				t.Errorf("the quiet start ended after %v, want no sooner than %v", d, startGCAfter)
			}
			if got := gcSetting(t, "/gc/gogc:percent"); got != uint64(tc.want) {
				t.Errorf("GOGC after the quiet start %d, want %d", got, tc.want)
			}
		})
	}
}

// gcSetting reads a setting of the collector from runtime/metrics, which
// unlike debug.SetGCPercent reads without writing.
func gcSetting(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime/metrics has no %s", name)
	}
	return s[0].Value.Uint64()
}
