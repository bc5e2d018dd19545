//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// healthStatus is ps's STATUS of name.
func healthStatus(t *testing.T, e *env, name string) string {
	t.Helper()
	row, ok := e.ps(t, name)
	if !ok {
		t.Fatalf("%s not listed by ps", name)
	}
	return row.Status
}

// A detached container's check, run by its monitor: healthy, unhealthy
// after the retries, healthy again; ps shows it as Docker's, each change
// is a health_status event, healthcheck run answers at once (issue 13).
func TestHealthDetached(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "h", "--health-cmd", "test -f /tmp/ok && echo fine",
		"--health-interval", "200ms", "--health-retries", "2", busybox, "sh", "-c", "touch /tmp/ok; exec sleep 60"), 0)
	eventually(t, "ps to show h (healthy)", func() bool { return strings.HasSuffix(healthStatus(t, e, "h"), " (healthy)") })
	wantStdout(t, e.lodger(t, "healthcheck", "run", "h"), "healthy\n")
	wantCode(t, e.lodger(t, "exec", "h", "rm", "/tmp/ok"), 0)
	eventually(t, "ps to show h (unhealthy)", func() bool { return strings.HasSuffix(healthStatus(t, e, "h"), " (unhealthy)") })
	r := e.lodger(t, "healthcheck", "run", "h")
	if r.code != 1 || r.stdout != "unhealthy\n" {
		t.Errorf("%s\nwant unhealthy and exit 1", r)
	}
	wantCode(t, e.lodger(t, "exec", "h", "touch", "/tmp/ok"), 0)
	eventually(t, "ps to show h (healthy) again", func() bool { return strings.HasSuffix(healthStatus(t, e, "h"), " (healthy)") })
	r = e.lodger(t, "events", "--since", "5m", "--until", "0s", "--filter", "container=h", "--filter", "event=health_status", "--format", "{{.Action}}")
	wantStdout(t, r, "health_status: healthy\nhealth_status: unhealthy\nhealth_status: healthy\n")

	// Failures in the start period do not count; past it they do.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "slow", "--health-cmd", "false", "--health-start-period", "60s",
		"--health-start-interval", "100ms", "--health-retries", "1", busybox, "sleep", "60"), 0)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "bad", "--health-cmd", "false",
		"--health-interval", "100ms", "--health-retries", "1", busybox, "sleep", "60"), 0)
	eventually(t, "ps to show bad (unhealthy)", func() bool { return strings.HasSuffix(healthStatus(t, e, "bad"), " (unhealthy)") })
	time.Sleep(time.Second)
	if s := healthStatus(t, e, "slow"); !strings.HasSuffix(s, " (health: starting)") {
		t.Errorf("slow's status %q, want (health: starting) while its start period lasts", s)
	}
	// A container without a check shows none.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "plain", "--no-healthcheck", busybox, "sleep", "60"), 0)
	if s := healthStatus(t, e, "plain"); strings.Contains(s, "(") {
		t.Errorf("plain's status %q, want no health", s)
	}
	wantError(t, e.lodger(t, "healthcheck", "run", "plain"), 125, "no health check")
	wantCode(t, e.lodger(t, "rm", "-f", "h", "slow", "bad", "plain"), 0)
	wantNothingLeft(t, e)
}

// A foreground run checks its container too, in the lodger process.
func TestHealthForeground(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "fg", "--health-cmd", "true", "--health-interval", "200ms",
		busybox, "sleep", "2"), 0)
	r := e.lodger(t, "events", "--since", "5m", "--until", "0s", "--filter", "container=fg", "--format", "{{.Action}}")
	wantStdout(t, r, "create\nstart\nhealth_status: healthy\ndie\n")
	wantCode(t, e.lodger(t, "rm", "fg"), 0)
}

func TestHealthErrors(t *testing.T) {
	e := isolatedEnv(t)
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--no-healthcheck", "--health-cmd", "true", busybox, "true"), 125, "--no-healthcheck")
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--health-cmd", "true", "--health-interval", "1us", busybox, "true"), 125, "--health-interval")
	wantError(t, e.lodger(t, "run", "-q", noTLS, "--health-cmd", "true", "--health-retries", "-1", busybox, "true"), 125, "--health-retries")
	wantError(t, e.lodger(t, "healthcheck", "run", "nosuch"), 125, "nosuch")
	wantNothingLeft(t, e)
}
