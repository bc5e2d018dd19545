package monitor

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitOutput: after the container's process exits, the monitor waits
// for the rest of its output while bytes still come (a loaded machine
// draining the last of it), stops once none came for the quiet time (a
// child left with --pid host holding the pipes), and never past the limit.
func TestWaitOutput(t *testing.T) {
	// Output trickles every tenth of the quiet time: a margin a loaded
	// machine's timers keep.
	const quiet = 500 * time.Millisecond
	t.Run("done", func(t *testing.T) {
		done := make(chan struct{})
		close(done)
		var n atomic.Int64
		if !waitOutput(done, &n, quiet, time.Minute) {
			t.Error("the copies ended, and waitOutput said they did not")
		}
	})
	t.Run("quiet", func(t *testing.T) {
		var n atomic.Int64
		start := time.Now()
		if waitOutput(make(chan struct{}), &n, quiet, time.Minute) {
			t.Error("the copies never ended, and waitOutput said they did")
		}
		if d := time.Since(start); d < quiet {
			t.Errorf("gave up after %v, before the quiet time %v", d, quiet)
		}
	})
	t.Run("progress keeps it waiting", func(t *testing.T) {
		var n atomic.Int64
		done := make(chan struct{})
		stop := make(chan struct{})
		go func() {
			// Output trickles for two and a half quiet times, then the
			// copies end.
			for i := range 25 {
				if i == 24 {
					close(done)
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(quiet / 10):
					n.Add(1)
				}
			}
		}()
		defer close(stop)
		if !waitOutput(done, &n, quiet, time.Minute) {
			t.Errorf("gave up after %d bytes while output still came", n.Load())
		}
	})
	t.Run("limit", func(t *testing.T) {
		var n atomic.Int64
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(quiet / 10):
					n.Add(1)
				}
			}
		}()
		start := time.Now()
		if waitOutput(make(chan struct{}), &n, quiet, 5*quiet) {
			t.Error("the copies never ended, and waitOutput said they did")
		}
		if d := time.Since(start); d < 5*quiet {
			t.Errorf("gave up after %v, before the limit", d)
		}
	})
}
