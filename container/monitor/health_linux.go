package monitor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
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
// at the interval after. update gets the state after each check and
// whether its status changed.
func CheckHealth(ctx context.Context, cfg health.Config, spec *specs.Spec, pid int, started time.Time, update func(health.State, bool)) {
	args := cfg.Args()
	if args == nil {
		return
	}
	cfg = cfg.WithDefaults()
	st := health.NewState()
	update(*st, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Next(st, time.Since(started))):
		}
		r := CheckOnce(ctx, spec, pid, args, cfg.Timeout)
		if ctx.Err() != nil {
			return
		}
		changed := st.Record(r, time.Since(started) < cfg.StartPeriod, cfg.Retries)
		cp := *st
		cp.Log = append([]health.Result(nil), st.Log...)
		update(cp, changed)
	}
}
