package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RestartPolicy is --restart: no, on-failure[:N], always, unless-stopped.
type RestartPolicy struct {
	Name       string `json:"name,omitempty"`
	MaxRetries int    `json:"maxRetries,omitempty"`
}

// ErrRestartPolicy says a restart policy is not one lodger knows.
var ErrRestartPolicy = errors.New("invalid restart policy")

// Check refuses a policy lodger does not know (ErrRestartPolicy, with
// what to give instead): a name other than "", no, on-failure, always
// and unless-stopped, a negative retry count, or a count with a policy
// other than on-failure.
func (p RestartPolicy) Check() error {
	switch p.Name {
	case "", "no", "always", "unless-stopped":
		if p.MaxRetries != 0 {
			return fmt.Errorf("%w: only on-failure takes a retry count", ErrRestartPolicy)
		}
	case "on-failure":
		if p.MaxRetries < 0 {
			return fmt.Errorf("%w: the retry count must be a number >= 0", ErrRestartPolicy)
		}
	default:
		return fmt.Errorf("%w %q: use no, on-failure[:N], always or unless-stopped", ErrRestartPolicy, p.Name)
	}
	return nil
}

// again decides whether the monitor starts the container again after it
// exited with code, having restarted count times already.
func (p RestartPolicy) again(code, count int, stopped bool) bool {
	if stopped {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || count < p.MaxRetries)
	}
	return false
}

// restartFile holds, in the run directory, a restart policy `lodger
// update --restart` gave the running container; it replaces the one the
// monitor was started with from the next exit on.
const restartFile = "restart-policy"

// SetRestart hands the monitor of the container whose run directory is
// runDir a new restart policy. The file is written whole and renamed, so
// the monitor reads the old policy or the new one, never half of one.
func SetRestart(runDir string, p RestartPolicy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := filepath.Join(runDir, "."+restartFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("set restart policy: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(runDir, restartFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("set restart policy: %w", err)
	}
	return nil
}

// restartPolicy is the policy in force: the one SetRestart left in
// runDir, else p.
func restartPolicy(runDir string, p RestartPolicy) RestartPolicy {
	b, err := os.ReadFile(filepath.Join(runDir, restartFile))
	if err != nil {
		return p
	}
	var q RestartPolicy
	if json.Unmarshal(b, &q) != nil {
		return p
	}
	return q
}

// stopRequested marks, in the run directory, that the user stopped the
// container: its restart policy must not bring it back.
const stopRequested = "stop-requested"

// RequestStop leaves that mark for the monitor of the container whose run
// directory is runDir.
func RequestStop(runDir string) error {
	return os.WriteFile(filepath.Join(runDir, stopRequested), nil, 0o600)
}

func stopWasRequested(runDir string) bool {
	_, err := os.Stat(filepath.Join(runDir, stopRequested))
	return err == nil
}
