// Package health is a container's health check as Docker's: the check's
// configuration (--health-* or the image's HEALTHCHECK), and the state
// machine its results drive (starting, healthy, unhealthy; the failing
// streak; the last five results). The monitor runs the checks; this
// package only decides what a result means, so it is tested alone.
package health

import (
	"errors"
	"fmt"
	"time"
)

// Statuses, as Docker's .State.Health.Status.
const (
	None      = "none"
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// Docker's defaults and bounds.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
	// MinInterval is the shortest interval Docker accepts.
	MinInterval = time.Millisecond
	// KeptResults is how many results State.Log keeps.
	KeptResults = 5
	// MaxOutput is how much of a check's output a result keeps.
	MaxOutput = 4096
)

// Config is the check, as Docker's HealthConfig (durations in
// nanoseconds in JSON).
type Config struct {
	// Test is ["CMD", args...], ["CMD-SHELL", command] or ["NONE"].
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// ErrInvalid says a --health-* value was refused.
var ErrInvalid = errors.New("invalid health check")

// Args is the command the check runs, or nil when it is disabled.
func (c Config) Args() []string {
	if len(c.Test) == 0 {
		return nil
	}
	switch c.Test[0] {
	case "CMD":
		return c.Test[1:]
	case "CMD-SHELL":
		if len(c.Test) < 2 {
			return nil
		}
		return []string{"/bin/sh", "-c", c.Test[1]}
	}
	return nil // NONE
}

// WithDefaults fills what is unset with Docker's defaults.
func (c Config) WithDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.StartInterval == 0 {
		c.StartInterval = DefaultStartInterval
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	return c
}

// Validate checks the bounds Docker checks.
func (c Config) Validate() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", c.Interval}, {"--health-timeout", c.Timeout}, {"--health-start-period", c.StartPeriod}, {"--health-start-interval", c.StartInterval}} {
		if d.v < 0 || (d.v > 0 && d.v < MinInterval) {
			return fmt.Errorf("%s %v: %w: it must be at least %v", d.flag, d.v, ErrInvalid, MinInterval)
		}
	}
	if c.Retries < 0 {
		return fmt.Errorf("--health-retries %d: %w: it must not be negative", c.Retries, ErrInvalid)
	}
	return nil
}

// Result is one run of the check.
type Result struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// State is .State.Health.
type State struct {
	Status        string   `json:"Status"`
	FailingStreak int      `json:"FailingStreak"`
	Log           []Result `json:"Log"`
}

// NewState is the state of a container whose check has not run yet.
func NewState() *State { return &State{Status: Starting, Log: []Result{}} }

// Record takes a result into s, as Docker does: a success makes the
// container healthy; a failure in the start period does not count; past
// it, retries failures in a row make it unhealthy. It says whether the
// status changed.
func (s *State) Record(r Result, inStartPeriod bool, retries int) bool {
	if len(r.Output) > MaxOutput {
		r.Output = r.Output[:MaxOutput]
	}
	s.Log = append(s.Log, r)
	if len(s.Log) > KeptResults {
		s.Log = append([]Result(nil), s.Log[len(s.Log)-KeptResults:]...)
	}
	old := s.Status
	switch {
	case r.ExitCode == 0:
		s.Status, s.FailingStreak = Healthy, 0
	case inStartPeriod && s.Status == Starting:
		// Failures while the container starts up are not counted.
	default:
		s.FailingStreak++
		if s.FailingStreak >= max(retries, 1) {
			s.Status = Unhealthy
		}
	}
	return s.Status != old
}

// Next is how long to wait before the next check: the start interval
// while the start period lasts and the container is starting, otherwise
// the interval.
func (c Config) Next(s *State, sinceStart time.Duration) time.Duration {
	if s.Status == Starting && sinceStart < c.StartPeriod {
		return c.StartInterval
	}
	return c.Interval
}
