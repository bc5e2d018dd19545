//go:build e2e

package e2e

import (
	"context"
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
		"--health-interval", "200ms", "--health-retries", "2", busybox, "sh", "-c", "touch /tmp/ok; exec sleep 600"), 0)
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
	r = e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container=h", "--filter", "event=health_status", "--format", "{{.Action}}")
	wantStdout(t, r, "health_status: healthy\nhealth_status: unhealthy\nhealth_status: healthy\n")

	// Failures in the start period do not count; past it they do.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "slow", "--health-cmd", "false", "--health-start-period", "60s",
		"--health-start-interval", "100ms", "--health-retries", "1", busybox, "sleep", "600"), 0)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "bad", "--health-cmd", "false",
		"--health-interval", "100ms", "--health-retries", "1", busybox, "sleep", "600"), 0)
	eventually(t, "ps to show bad (unhealthy)", func() bool { return strings.HasSuffix(healthStatus(t, e, "bad"), " (unhealthy)") })
	time.Sleep(time.Second)
	if s := healthStatus(t, e, "slow"); !strings.HasSuffix(s, " (health: starting)") {
		t.Errorf("slow's status %q, want (health: starting) while its start period lasts", s)
	}
	// A container without a check shows none.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "plain", "--no-healthcheck", busybox, "sleep", "600"), 0)
	if s := healthStatus(t, e, "plain"); strings.Contains(s, "(") {
		t.Errorf("plain's status %q, want no health", s)
	}
	wantError(t, e.lodger(t, "healthcheck", "run", "plain"), 125, "no health check")
	wantCode(t, e.lodger(t, "rm", "-f", "h", "slow", "bad", "plain"), 0)
	wantNothingLeft(t, e)
}

// A foreground run checks its container too, in the lodger process.
// The container ends once its first check has been recorded healthy (a
// gate), not after a fixed time a loaded machine could spend before the
// first check.
func TestHealthForeground(t *testing.T) {
	e := isolatedEnv(t)
	g := newGate(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
	defer cancel()
	cmd := e.command(ctx, "run", "-q", noTLS, "--name", "fg", "--health-cmd", "true", "--health-interval", "200ms",
		"-v", g.volume(), busybox, "sh", "-c", gateWait)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "fg to be healthy", func() bool {
		return e.lodger(t, "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", "fg").stdout == "healthy\n"
	})
	g.open(t)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the foreground run: %v\n%s", err, out.String())
	}
	r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container=fg", "--format", "{{.Action}}")
	wantStdout(t, r, "create\nattach\nstart\nhealth_status: healthy\ndie\n")
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

// TestHealthImage: an image's HEALTHCHECK (HEALTHCHECK --interval=300ms
// --retries=2 CMD test -e /tmp/healthy, in the image's configuration as
// docker build writes it) is the container's check when run gives no
// --health-cmd; --health-* flags override its values one by one;
// --no-healthcheck turns it off. healthcheck run counts as one of the
// monitor's checks: its results move the recorded state (issue 13).
func TestHealthImage(t *testing.T) {
	e := isolatedEnv(t)
	img := ref("health:latest")
	e.pull(t, img, noTLS)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "img", img, "sleep", "600"), 0)
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{json .Config.Healthcheck}}", "img"),
		`{"Test":["CMD-SHELL","test -e /tmp/healthy"],"Interval":300000000,"Retries":2}`+"\n")
	eventually(t, "ps to show img (unhealthy)", func() bool { return strings.HasSuffix(healthStatus(t, e, "img"), " (unhealthy)") })
	wantCode(t, e.lodger(t, "exec", "img", "touch", "/tmp/healthy"), 0)
	eventually(t, "img to turn healthy", func() bool {
		return e.lodger(t, "inspect", "-f", "{{.State.Health.Status}}", "img").stdout == "healthy\n"
	})

	// An hour between the monitor's checks: only healthcheck run checks.
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "manual", "--health-interval", "1h", img, "sleep", "600"), 0)
	health := func() string {
		return e.lodger(t, "inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}", "manual").stdout
	}
	if h := health(); h != "starting 0 0\n" {
		t.Errorf("manual's health %q before any check, want starting, no failure, no result", h)
	}
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Retries}}", "manual"), "1h0m0s 2\n")
	r := e.lodger(t, "healthcheck", "run", "manual")
	if r.code != 1 || r.stdout != "unhealthy\n" {
		t.Errorf("%s\nwant unhealthy and exit 1", r)
	}
	if h := health(); h != "starting 1 1\n" {
		t.Errorf("manual's health %q after one failure of two retries, want starting 1 1", h)
	}
	wantCode(t, e.lodger(t, "healthcheck", "run", "manual"), 1)
	if h := health(); h != "unhealthy 2 2\n" {
		t.Errorf("manual's health %q after two failures, want unhealthy 2 2", h)
	}
	if s := healthStatus(t, e, "manual"); !strings.HasSuffix(s, " (unhealthy)") {
		t.Errorf("ps shows manual as %q, want (unhealthy)", s)
	}
	wantCode(t, e.lodger(t, "exec", "manual", "touch", "/tmp/healthy"), 0)
	wantStdout(t, e.lodger(t, "healthcheck", "run", "manual"), "healthy\n")
	if h := health(); h != "healthy 0 3\n" {
		t.Errorf("manual's health %q after a success, want healthy 0 3", h)
	}
	r = e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container=manual", "--filter", "event=health_status", "--format", "{{.Action}}")
	wantStdout(t, r, "health_status: unhealthy\nhealth_status: healthy\n")

	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "off", "--no-healthcheck", img, "sleep", "600"), 0)
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.State.Health}} {{.Config.Healthcheck}}", "off"), "<nil> <nil>\n")
	wantError(t, e.lodger(t, "healthcheck", "run", "off"), 125, "no health check")
	wantCode(t, e.lodger(t, "rm", "-f", "img", "manual", "off"), 0)
}
