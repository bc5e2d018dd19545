package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/monitor"
)

// HealthOptions are run's --health-* flags and --no-healthcheck.
type HealthOptions struct {
	Cmd string // --health-cmd, run with /bin/sh -c as Docker's CMD-SHELL
	// Test is the check in Docker's form (["CMD", args...],
	// ["CMD-SHELL", command] or ["NONE"]), as the API gives it; it wins
	// over Cmd.
	Test                       []string
	Interval, Timeout          time.Duration
	StartPeriod, StartInterval time.Duration
	Retries                    int
	None                       bool // --no-healthcheck
}

// config is the container's check, from the flags and the image's
// HEALTHCHECK (nil when it has none), as Docker merges them: --health-cmd
// replaces the image's test, the other flags override its values one by
// one, --no-healthcheck turns any off. nil for none.
func (o HealthOptions) config(image *health.Config) (*health.Config, error) {
	if o.None && o.Cmd != "" {
		return nil, fmt.Errorf("--no-healthcheck conflicts with --health-cmd: %w", health.ErrInvalid)
	}
	c := health.Config{Interval: o.Interval, Timeout: o.Timeout, StartPeriod: o.StartPeriod, StartInterval: o.StartInterval, Retries: o.Retries}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(o.Test) > 0 {
		switch o.Test[0] {
		case "NONE":
			return nil, nil
		case "CMD", "CMD-SHELL":
			if len(o.Test) < 2 {
				return nil, fmt.Errorf("health check test %q: %w: a command is needed", o.Test, health.ErrInvalid)
			}
		default:
			return nil, fmt.Errorf("health check test %q: %w: want CMD, CMD-SHELL or NONE first", o.Test, health.ErrInvalid)
		}
	}
	switch {
	case o.None:
		return nil, nil
	case len(o.Test) > 0:
		c.Test = o.Test
	case o.Cmd != "":
		c.Test = []string{"CMD-SHELL", o.Cmd}
	case image != nil && image.Args() != nil:
		c.Test = image.Test
		for _, f := range []struct{ set, from *time.Duration }{
			{&c.Interval, &image.Interval}, {&c.Timeout, &image.Timeout},
			{&c.StartPeriod, &image.StartPeriod}, {&c.StartInterval, &image.StartInterval},
		} {
			if *f.set == 0 {
				*f.set = *f.from
			}
		}
		if c.Retries == 0 {
			c.Retries = image.Retries
		}
	default:
		return nil, nil
	}
	return &c, nil
}

// imageHealthcheck is the HEALTHCHECK of a Docker image's configuration
// (raw, as storage keeps it); the OCI configuration lodger reads
// otherwise has no such field. nil when there is none.
func imageHealthcheck(raw []byte) *health.Config {
	var cfg struct {
		Config struct {
			Healthcheck *health.Config `json:"Healthcheck"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &cfg) != nil {
		return nil
	}
	return cfg.Config.Healthcheck
}

// storedHealthcheck reads imageHealthcheck from storage: the
// configuration is the big data item named by its digest, which is the
// image's ID.
func storedHealthcheck(store cstorage.Store, imageID string) *health.Config {
	raw, err := store.ImageBigData(imageID, "sha256:"+imageID)
	if err != nil {
		return nil
	}
	return imageHealthcheck(raw)
}

// ErrNoHealthcheck says a container has no health check to run.
var ErrNoHealthcheck = errors.New("container has no health check")

// HealthcheckRun runs the container's check once, as podman's
// healthcheck run, and returns its result. The result counts as the
// monitor's own checks do: it goes into the container's health state
// (a status it changes writes a health_status event).
func HealthcheckRun(ctx context.Context, store cstorage.Store, ref string) (health.Result, error) {
	in, err := Get(store, ref)
	if err != nil {
		return health.Result{}, err
	}
	hc := in.Metadata.Healthcheck
	if hc == nil || hc.Args() == nil {
		return health.Result{}, fmt.Errorf("healthcheck %s: %w; give one with run --health-cmd", in.Name, ErrNoHealthcheck)
	}
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return health.Result{}, fmt.Errorf("healthcheck %s: %w", in.Name, ErrNotRunning)
	}
	spec, err := loadSpec(store, in.ID)
	if err != nil {
		return health.Result{}, err
	}
	cfg := hc.WithDefaults()
	r := monitor.CheckOnce(ctx, spec, in.State.Pid, hc.Args(), cfg.Timeout)
	dir, err := store.ContainerRunDirectory(in.ID)
	if err != nil {
		return r, err
	}
	st, changed, err := monitor.RecordHealth(dir, r, time.Since(in.State.StartedAt) < cfg.StartPeriod, cfg.Retries)
	if err != nil {
		return r, fmt.Errorf("healthcheck %s: %w", in.Name, err)
	}
	if changed {
		in.emit("health_status: " + st.Status)
	}
	return r, nil
}
