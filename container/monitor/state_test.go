package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/container/health"
)

func TestStatusText(t *testing.T) {
	code := func(n int) *int { return &n }
	ago := func(d time.Duration) time.Time { return time.Now().Add(-d) }
	for _, tc := range []struct {
		name string
		s    State
		want string
	}{
		{"created", State{Status: StatusCreated}, "Created"},
		{"just started", State{Status: StatusRunning, StartedAt: ago(100 * time.Millisecond)}, "Up Less than a second"},
		{"seconds", State{Status: StatusRunning, StartedAt: ago(5 * time.Second)}, "Up 5 seconds"},
		{"about a minute", State{Status: StatusRunning, StartedAt: ago(70 * time.Second)}, "Up About a minute"},
		{"minutes", State{Status: StatusRunning, StartedAt: ago(3 * time.Minute)}, "Up 3 minutes"},
		{"about an hour", State{Status: StatusRunning, StartedAt: ago(65 * time.Minute)}, "Up About an hour"},
		{"days", State{Status: StatusRunning, StartedAt: ago(50 * time.Hour)}, "Up 2 days"},
		{"paused", State{Status: StatusRunning, Paused: true, StartedAt: ago(3 * time.Minute)}, "Up 3 minutes (Paused)"},
		{"health starting", State{Status: StatusRunning, StartedAt: ago(5 * time.Second), Health: &health.State{Status: health.Starting}}, "Up 5 seconds (health: starting)"},
		{"healthy", State{Status: StatusRunning, StartedAt: ago(5 * time.Second), Health: &health.State{Status: health.Healthy}}, "Up 5 seconds (healthy)"},
		{"unhealthy", State{Status: StatusRunning, StartedAt: ago(5 * time.Second), Health: &health.State{Status: health.Unhealthy}}, "Up 5 seconds (unhealthy)"},
		{"exited", State{Status: StatusExited, ExitCode: code(3), FinishedAt: ago(2 * time.Hour)}, "Exited (3) 2 hours ago"},
		{"exited, end unseen", State{Status: StatusExited}, "Exited (unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.StatusText(); got != tc.want {
				t.Errorf("StatusText() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if got := LoadState(dir); got.Status != StatusCreated {
		t.Errorf("LoadState of an empty directory: %+v, want created", got)
	}
	code := 0
	s := State{Status: StatusExited, ExitCode: &code, BootID: BootID(), RestartCount: 2, StartedAt: time.Unix(1000, 0).UTC(), FinishedAt: time.Unix(2000, 0).UTC()}
	if err := SaveState(dir, s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, LoadState(dir)); diff != "" {
		t.Errorf("LoadState after SaveState (-want +got):\n%s", diff)
	}
	// No temporary file is left beside state.json.
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(names) != 1 || len(hidden) != 0 {
		t.Errorf("run directory holds %q %q, want state.json alone", names, hidden)
	}
}

// A state that says running is corrected against the machine: its
// monitor gone, or written before a reboot, it has exited, with no code.
func TestLoadStateCorrectsTheDead(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    State
	}{
		{"monitor gone", State{Status: StatusRunning, Pid: 1 << 22, MonitorPid: 1<<22 + 1, BootID: BootID()}},
		{"another boot", State{Status: StatusRunning, Pid: os.Getpid(), MonitorPid: os.Getpid(), BootID: "not-this-boot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code := 0
			tc.s.ExitCode = &code
			if err := SaveState(dir, tc.s); err != nil {
				t.Fatal(err)
			}
			got := LoadState(dir)
			if got.Status != StatusExited || got.ExitCode != nil || got.Pid != 0 {
				t.Errorf("LoadState = %+v, want exited with no code and no pid", got)
			}
		})
	}
	// A live monitor of this boot: running, as written.
	dir := t.TempDir()
	if err := SaveState(dir, State{Status: StatusRunning, Pid: os.Getpid(), MonitorPid: os.Getpid(), BootID: BootID()}); err != nil {
		t.Fatal(err)
	}
	if got := LoadState(dir); got.Status != StatusRunning || got.Pid != os.Getpid() {
		t.Errorf("LoadState = %+v, want running", got)
	}
}

// The paused mark counts only for the process it paused.
func TestPausedMark(t *testing.T) {
	dir := t.TempDir()
	pid := os.Getpid()
	if err := SaveState(dir, State{Status: StatusRunning, Pid: pid, MonitorPid: pid, BootID: BootID()}); err != nil {
		t.Fatal(err)
	}
	if err := MarkPaused(dir, pid, "/sys/fs/cgroup/freezer/x"); err != nil {
		t.Fatal(err)
	}
	if got := LoadState(dir); !got.Paused || got.PausedFreezer != "/sys/fs/cgroup/freezer/x" {
		t.Errorf("LoadState = %+v, want paused in the recorded freezer", got)
	}
	if err := MarkPaused(dir, pid+1, ""); err != nil {
		t.Fatal(err)
	}
	if got := LoadState(dir); got.Paused {
		t.Errorf("a mark for another pid: LoadState = %+v, want not paused", got)
	}
	if err := ClearPaused(dir); err != nil {
		t.Fatal(err)
	}
	if err := ClearPaused(dir); err != nil {
		t.Errorf("ClearPaused twice: %v", err)
	}
}

func TestRestartPolicy(t *testing.T) {
	for _, p := range []RestartPolicy{{}, {Name: "no"}, {Name: "always"}, {Name: "unless-stopped"}, {Name: "on-failure"}, {Name: "on-failure", MaxRetries: 3}} {
		if err := p.Check(); err != nil {
			t.Errorf("%+v.Check() = %v; want nil", p, err)
		}
	}
	for _, p := range []RestartPolicy{{Name: "on-failure", MaxRetries: -1}, {Name: "always", MaxRetries: 3}, {Name: "sometimes"}} {
		if err := p.Check(); !errors.Is(err, ErrRestartPolicy) || strings.Contains(err.Error(), "--") {
			t.Errorf("%+v.Check() = %v; want ErrRestartPolicy naming no flag", p, err)
		}
	}
	for _, tc := range []struct {
		p              RestartPolicy
		code, count    int
		stopped, again bool
	}{
		{RestartPolicy{}, 1, 0, false, false},
		{RestartPolicy{Name: "always"}, 0, 100, false, true},
		{RestartPolicy{Name: "always"}, 0, 0, true, false},
		{RestartPolicy{Name: "unless-stopped"}, 1, 0, true, false},
		{RestartPolicy{Name: "on-failure"}, 0, 0, false, false},
		{RestartPolicy{Name: "on-failure"}, 2, 50, false, true},
		{RestartPolicy{Name: "on-failure", MaxRetries: 3}, 2, 2, false, true},
		{RestartPolicy{Name: "on-failure", MaxRetries: 3}, 2, 3, false, false},
	} {
		if got := tc.p.again(tc.code, tc.count, tc.stopped); got != tc.again {
			t.Errorf("%+v.again(code %d, count %d, stopped %v) = %v, want %v", tc.p, tc.code, tc.count, tc.stopped, got, tc.again)
		}
	}
	// lodger update --restart: the policy in force is the one it left.
	dir := t.TempDir()
	orig := RestartPolicy{Name: "always"}
	if got := restartPolicy(dir, orig); got != orig {
		t.Errorf("restartPolicy with no update = %+v, want %+v", got, orig)
	}
	upd := RestartPolicy{Name: "on-failure", MaxRetries: 2}
	if err := SetRestart(dir, upd); err != nil {
		t.Fatal(err)
	}
	if got := restartPolicy(dir, orig); got != upd {
		t.Errorf("restartPolicy after SetRestart = %+v, want %+v", got, upd)
	}
	if stopWasRequested(dir) {
		t.Error("stop requested before RequestStop")
	}
	if err := RequestStop(dir); err != nil {
		t.Fatal(err)
	}
	if !stopWasRequested(dir) {
		t.Error("stop not requested after RequestStop")
	}
}
