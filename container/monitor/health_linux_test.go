package monitor

import (
	"sync"
	"testing"
	"time"

	"github.com/lodger-containers/lodger/container/health"
)

// Two writers of the health state (the monitor's checks and healthcheck
// run) add their results under the lock: none is lost, and LoadState
// shows what they made.
func TestRecordHealthWriters(t *testing.T) {
	dir := t.TempDir()
	if err := SaveState(dir, State{Status: StatusExited}); err != nil {
		t.Fatal(err)
	}
	if err := ResetHealth(dir); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := RecordHealth(dir, health.Result{ExitCode: 1, Start: time.Now()}, false, 10); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := LoadState(dir)
	if st.Health == nil || st.Health.FailingStreak != 4 || len(st.Health.Log) != 4 || st.Health.Status != health.Starting {
		t.Fatalf("health %+v, want 4 failures kept, still starting (10 retries)", st.Health)
	}
	got, changed, err := RecordHealth(dir, health.Result{ExitCode: 0}, false, 10)
	if err != nil || !changed || got.Status != health.Healthy || got.FailingStreak != 0 {
		t.Fatalf("after a success: %+v changed %v %v, want healthy", got, changed, err)
	}
	if err := ResetHealth(dir); err != nil {
		t.Fatal(err)
	}
	if st := LoadState(dir); st.Health.Status != health.Starting || len(st.Health.Log) != 0 {
		t.Errorf("after a reset %+v, want starting with no results", st.Health)
	}
}
