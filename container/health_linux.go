package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/monitor"
)

// HealthOptions are run's --health-* flags and --no-healthcheck.
type HealthOptions struct {
	Cmd                        string // --health-cmd, run with /bin/sh -c as Docker's CMD-SHELL
	Interval, Timeout          time.Duration
	StartPeriod, StartInterval time.Duration
	Retries                    int
	None                       bool // --no-healthcheck
}

// config is the container's check: nil for none.
func (o HealthOptions) config() (*health.Config, error) {
	if o.None && o.Cmd != "" {
		return nil, fmt.Errorf("--no-healthcheck conflicts with --health-cmd: %w", health.ErrInvalid)
	}
	c := health.Config{Interval: o.Interval, Timeout: o.Timeout, StartPeriod: o.StartPeriod, StartInterval: o.StartInterval, Retries: o.Retries}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if o.None || o.Cmd == "" {
		return nil, nil
	}
	c.Test = []string{"CMD-SHELL", o.Cmd}
	return &c, nil
}

// ErrNoHealthcheck says a container has no health check to run.
var ErrNoHealthcheck = errors.New("container has no health check")

// HealthcheckRun runs the container's check once, as podman's
// healthcheck run, and returns its result and the status it stands for.
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
	return monitor.CheckOnce(ctx, spec, in.State.Pid, hc.Args(), hc.WithDefaults().Timeout), nil
}
