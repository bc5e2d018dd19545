package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/go-units"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// Status of a container as ps shows it.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
)

// State is a container's runtime state, kept beside it in storage's run
// directory (which a reboot wipes) and written atomically.
type State struct {
	Status     string    `json:"status"`
	Pid        int       `json:"pid,omitempty"`        // the container process, as the session sees it
	MonitorPid int       `json:"monitorPid,omitempty"` // the monitor, or the foreground lodger, that waits for it
	ExitCode   *int      `json:"exitCode,omitempty"`   // nil while running, or when nobody saw the end
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	BootID     string    `json:"bootID,omitempty"`
	Remove     bool      `json:"remove,omitempty"` // --rm: the monitor deletes the container after exit
	// Foreground says MonitorPid is the lodger run that waits in the
	// foreground, which has no restart policy to change.
	Foreground bool `json:"foreground,omitempty"`
	// RestartCount is how often the restart policy started it again.
	RestartCount int `json:"restartCount,omitempty"`
	// Ports are the published ports as bound, host ports picked.
	Ports []ports.Mapping `json:"ports,omitempty"`
	// Health is the health check's state (Docker's .State.Health), kept
	// by whoever watches the container (its monitor, or the foreground
	// lodger); nil for a container without a check.
	Health *health.State `json:"health,omitempty"`
	// Paused says lodger pause stopped the running container; it is read
	// from a file of its own (pausedFile), never saved in this one, so
	// the monitor's writes cannot lose it.
	Paused bool `json:"paused,omitempty"`
	// OOMKilled says the OOM killer killed a process of the container's
	// memory cgroup in its last run (Docker's State.OOMKilled).
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Cgroup is the container's own cgroups, where its limits are
	// written (run's -m, --cpus, --pids-limit; update's); none when it
	// has no limit or nothing is delegated.
	Cgroup *cgroups.Group `json:"cgroup,omitempty"`
	// PausedFreezer is the cgroup a paused container is frozen in; empty
	// when signals stopped it. Read from the mark too.
	PausedFreezer string `json:"-"`
}

// pausedFile marks a paused container. It holds the pid of the process it
// paused, so a mark left by a container that exited, or one started again,
// does not count, and the freezer cgroup it was frozen in, if any.
const pausedFile = "paused"

// MarkPaused records that the container process pid is paused: frozen in
// the cgroup freezer, or stopped by signals when freezer is empty. The
// cgroup is recorded because the pause command's own cgroup found it: an
// unpause run from elsewhere must thaw the same one.
func MarkPaused(dir string, pid int, freezer string) error {
	mark := strconv.Itoa(pid)
	if freezer != "" {
		mark += "\n" + freezer
	}
	if err := os.WriteFile(filepath.Join(dir, pausedFile), []byte(mark), 0o600); err != nil {
		return fmt.Errorf("mark container paused: %w", err)
	}
	return nil
}

// ClearPaused removes the mark MarkPaused left.
func ClearPaused(dir string) error {
	if err := os.Remove(filepath.Join(dir, pausedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unmark paused container: %w", err)
	}
	return nil
}

const stateFile = "state.json"

// The health state of a container lives in a file of its own in the run
// directory, beside state.json, so that the monitor's checks and `lodger
// healthcheck run` both add their results to it, under a lock, and
// neither's write loses the other's (RecordHealth).
const (
	healthFile = "health.json"
	healthLock = "health.lock"
)

// loadHealth reads the health state in runDir; nil when there is none.
func loadHealth(runDir string) *health.State {
	b, err := os.ReadFile(filepath.Join(runDir, healthFile))
	if err != nil {
		return nil
	}
	var st health.State
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	if st.Log == nil {
		st.Log = []health.Result{}
	}
	return &st
}

// SaveState writes s to dir atomically (temporary file, rename), so a
// reader never sees half a state. There is no fsync: the directory is
// storage's run directory, which a reboot discards anyway (and LoadState
// checks the boot id where it does not).
func SaveState(dir string, s State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save container state: %w", err)
	}
	return nil
}

// LoadState reads the state in dir and corrects it against the machine: a
// container whose monitor is gone, or that ran before a reboot, has exited,
// whatever the file says.
func LoadState(dir string) State {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) || json.Unmarshal(b, &s) != nil {
		return State{Status: StatusCreated}
	}
	if s.Status == StatusRunning && (s.BootID != BootID() || !Alive(s.MonitorPid)) {
		s.Status = StatusExited
		s.ExitCode = nil
		s.Pid = 0
	}
	if h := loadHealth(dir); h != nil {
		s.Health = h
	}
	if s.Status == StatusRunning && s.Pid > 0 {
		b, err := os.ReadFile(filepath.Join(dir, pausedFile))
		pid, freezer, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		s.Paused = err == nil && pid == strconv.Itoa(s.Pid)
		if s.Paused {
			s.PausedFreezer = freezer
		}
	}
	return s
}

// Alive reports whether pid is a live, non-zombie process.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// BootID is this boot of the machine, as a State records it.
func BootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// StatusText is ps's STATUS column.
func (s State) StatusText() string {
	switch s.Status {
	case StatusRunning:
		if s.Paused {
			return "Up " + humanSince(s.StartedAt) + " (Paused)"
		}
		// Docker's ps: "Up 3 minutes (healthy)", "(health: starting)".
		if s.Health != nil {
			switch s.Health.Status {
			case health.Starting:
				return "Up " + humanSince(s.StartedAt) + " (health: starting)"
			case health.Healthy, health.Unhealthy:
				return "Up " + humanSince(s.StartedAt) + " (" + s.Health.Status + ")"
			}
		}
		return "Up " + humanSince(s.StartedAt)
	case StatusExited:
		code := "unknown"
		if s.ExitCode != nil {
			code = strconv.Itoa(*s.ExitCode)
		}
		if s.FinishedAt.IsZero() {
			return "Exited (" + code + ")"
		}
		return "Exited (" + code + ") " + humanSince(s.FinishedAt) + " ago"
	}
	return "Created"
}

// humanSince is Docker's wording of the time since t ("Less than a
// second", "5 seconds", "About a minute", "3 hours", "2 days"), which
// scripts that parse ps's STATUS expect.
func humanSince(t time.Time) string {
	return units.HumanDuration(time.Since(t))
}
