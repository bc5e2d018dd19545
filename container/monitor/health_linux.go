package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/exec"
)

// nsFile names the /proc/PID/ns file of each namespace type.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup",
}

// CheckOnce runs the health check args in the container whose process is
// pid, as an exec would (its namespaces, its spec's user, environment and
// confinement), and returns Docker's result: stdout and stderr together,
// exit -1 past timeout.
func CheckOnce(ctx context.Context, spec *specs.Spec, pid int, args []string, timeout time.Duration) health.Result {
	r := health.Result{Start: time.Now().UTC(), ExitCode: -1}
	s := *spec
	proc := *spec.Process
	proc.Args, proc.Terminal = args, false
	s.Process = &proc
	s.Annotations = nil
	lin := *spec.Linux
	lin.Namespaces = nil
	for _, ns := range spec.Linux.Namespaces {
		lin.Namespaces = append(lin.Namespaces, specs.LinuxNamespace{Type: ns.Type, Path: "/proc/" + strconv.Itoa(pid) + "/ns/" + nsFile[ns.Type]})
	}
	s.Linux = &lin
	outR, outW, err := os.Pipe()
	if err != nil {
		r.End, r.Output = time.Now().UTC(), err.Error()
		return r
	}
	defer outR.Close()
	p, err := exec.Start(&s, exec.Stdio{Out: outW, Err: outW}, exec.Hooks{})
	outW.Close()
	if err != nil {
		r.End, r.Output = time.Now().UTC(), fmt.Sprintf("run health check: %v", err)
		return r
	}
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(&out, io.LimitReader(outR, health.MaxOutput))
		_, _ = io.Copy(io.Discard, outR)
	}()
	type exit struct{ code int }
	done := make(chan exit, 1)
	go func() {
		code, _ := p.Wait()
		done <- exit{code}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case e := <-done:
		r.ExitCode = e.code
	case <-timer.C:
		_ = p.Signal(syscall.SIGKILL)
		<-done
		r.End = time.Now().UTC()
		outR.Close()
		wg.Wait()
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		return r
	case <-ctx.Done():
		_ = p.Signal(syscall.SIGKILL)
		<-done
		r.ExitCode = -1
	}
	// A process the check left behind may hold the pipe: bounded.
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
	case <-time.After(time.Second):
		outR.Close()
		<-c
	}
	r.End = time.Now().UTC()
	r.Output = out.String()
	return r
}

// CheckHealth runs cfg's check on the container process pid, started at
// started, until ctx ends: at the start interval during the start period,
// at the interval after. Each result goes into the health state in runDir
// (RecordHealth), which `healthcheck run` writes too; changed is called
// with the state whenever a result changed its status. The caller has
// reset the health state (ResetHealth) before the container showed as
// running.
func CheckHealth(ctx context.Context, cfg health.Config, spec *specs.Spec, pid int, started time.Time, runDir string, changed func(health.State)) {
	args := cfg.Args()
	if args == nil {
		return
	}
	cfg = cfg.WithDefaults()
	st := *health.NewState()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Next(&st, time.Since(started))):
		}
		r := CheckOnce(ctx, spec, pid, args, cfg.Timeout)
		if ctx.Err() != nil {
			return
		}
		var ch bool
		var err error
		if st, ch, err = RecordHealth(runDir, r, time.Since(started) < cfg.StartPeriod, cfg.Retries); err == nil && ch {
			changed(st)
		}
	}
}

// ResetHealth starts the health state in runDir over: a container (re)started
// is starting again.
func ResetHealth(runDir string) error {
	_, _, err := updateHealth(runDir, func(st *health.State) bool {
		*st = *health.NewState()
		return false
	})
	return err
}

// RecordHealth takes a check's result into the health state in runDir,
// as health.State.Record does, and returns the state and whether its
// status changed.
func RecordHealth(runDir string, r health.Result, inStartPeriod bool, retries int) (health.State, bool, error) {
	return updateHealth(runDir, func(st *health.State) bool { return st.Record(r, inStartPeriod, retries) })
}

func updateHealth(runDir string, fn func(*health.State) bool) (health.State, bool, error) {
	lock, err := os.OpenFile(filepath.Join(runDir, healthLock), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return health.State{}, false, fmt.Errorf("lock health state: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return health.State{}, false, fmt.Errorf("lock health state: %w", err)
	}
	st := loadHealth(runDir)
	if st == nil {
		st = health.NewState()
	}
	changed := fn(st)
	b, err := json.Marshal(st)
	if err != nil {
		return health.State{}, false, err
	}
	tmp := filepath.Join(runDir, "."+healthFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return health.State{}, false, fmt.Errorf("save health state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(runDir, healthFile)); err != nil {
		return health.State{}, false, fmt.Errorf("save health state: %w", err)
	}
	return *st, changed, nil
}
