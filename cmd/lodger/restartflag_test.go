package main

import (
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/container/monitor"
)

func TestParseRestart(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    monitor.RestartPolicy
		wantErr string
	}{
		{"", monitor.RestartPolicy{}, ""},
		{"no", monitor.RestartPolicy{}, ""},
		{"always", monitor.RestartPolicy{Name: "always"}, ""},
		{"unless-stopped", monitor.RestartPolicy{Name: "unless-stopped"}, ""},
		{"on-failure", monitor.RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:3", monitor.RestartPolicy{Name: "on-failure", MaxRetries: 3}, ""},
		{"on-failure:-1", monitor.RestartPolicy{}, `--restart "on-failure:-1": the retry count`},
		{"on-failure:x", monitor.RestartPolicy{}, `--restart "on-failure:x": the retry count`},
		{"always:3", monitor.RestartPolicy{}, `--restart "always:3": only on-failure`},
		{"sometimes", monitor.RestartPolicy{}, `--restart "sometimes": use no, on-failure[:N]`},
	} {
		got, err := parseRestart(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("parseRestart(%q) = %v; want an error starting %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseRestart(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
