package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecord(t *testing.T) {
	ok, fail := Result{ExitCode: 0}, Result{ExitCode: 1}
	for _, tc := range []struct {
		name    string
		results []Result
		start   []bool // in the start period, per result
		want    []string
		streak  int
	}{
		{"healthy at once", []Result{ok}, []bool{false}, []string{Healthy}, 0},
		{"three failures", []Result{fail, fail, fail}, []bool{false, false, false}, []string{Starting, Starting, Unhealthy}, 3},
		{"start period does not count", []Result{fail, fail, fail, fail}, []bool{true, true, false, false}, []string{Starting, Starting, Starting, Starting}, 2},
		{"recovers", []Result{fail, fail, fail, ok}, []bool{false, false, false, false}, []string{Starting, Starting, Unhealthy, Healthy}, 0},
		{"healthy then failing", []Result{ok, fail, fail, fail}, []bool{true, true, false, false}, []string{Healthy, Healthy, Healthy, Unhealthy}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			var got []string
			for i, r := range tc.results {
				s.Record(r, tc.start[i], 3)
				got = append(got, s.Status)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if s.FailingStreak != tc.streak {
				t.Errorf("streak %d, want %d", s.FailingStreak, tc.streak)
			}
		})
	}
}

func TestLogBounded(t *testing.T) {
	s := NewState()
	for i := range 8 {
		s.Record(Result{ExitCode: i, Output: strings.Repeat("x", 5000)}, false, 3)
	}
	if len(s.Log) != KeptResults || s.Log[0].ExitCode != 3 || s.Log[4].ExitCode != 7 {
		t.Errorf("log kept %d results from %d, want the last 5", len(s.Log), s.Log[0].ExitCode)
	}
	if len(s.Log[4].Output) != MaxOutput {
		t.Errorf("output kept %d bytes, want %d", len(s.Log[4].Output), MaxOutput)
	}
	if changed := s.Record(Result{}, false, 3); !changed || s.Status != Healthy {
		t.Errorf("a success after failures: changed %v, status %s", changed, s.Status)
	}
}

func TestConfig(t *testing.T) {
	if diff := cmp.Diff([]string{"/bin/sh", "-c", "test -f /ok"}, Config{Test: []string{"CMD-SHELL", "test -f /ok"}}.Args()); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"cat", "/ok"}, Config{Test: []string{"CMD", "cat", "/ok"}}.Args()); diff != "" {
		t.Error(diff)
	}
	if (Config{Test: []string{"NONE"}}).Args() != nil {
		t.Error("NONE runs something")
	}
	c := Config{StartPeriod: time.Minute}.WithDefaults()
	s := NewState()
	if c.Next(s, time.Second) != DefaultStartInterval || c.Next(s, 2*time.Minute) != DefaultInterval {
		t.Error("start interval not used in the start period only")
	}
	s.Status = Healthy
	if c.Next(s, time.Second) != DefaultInterval {
		t.Error("a healthy container is checked at the start interval")
	}
	if err := (Config{Interval: time.Microsecond}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("1µs interval: %v", err)
	}
	if err := (Config{Retries: -1}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative retries: %v", err)
	}
}
