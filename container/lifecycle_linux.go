package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
)

// ErrNotRunning says a container has no process to signal.
var ErrNotRunning = errors.New("container is not running")

// Info is what lodger knows of a container: its record and its state.
type Info struct {
	ID       string        `json:"Id"`
	Name     string        `json:"Name"`
	ImageID  string        `json:"ImageID"`
	Metadata Metadata      `json:"Config"`
	State    monitor.State `json:"State"`
	LogPath  string        `json:"LogPath"`
}

// Get finds a container by ID, unique ID prefix or name.
func Get(store cstorage.Store, ref string) (Info, error) {
	c, err := store.Container(ref)
	if err != nil {
		return Info{}, fmt.Errorf("no such container %q: %w", ref, err)
	}
	return info(store, c), nil
}

// List returns every container lodger knows, with its state.
func List(store cstorage.Store) ([]Info, error) {
	cs, err := store.Containers()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(cs))
	for i := range cs {
		out = append(out, info(store, &cs[i]))
	}
	return out, nil
}

func info(store cstorage.Store, c *cstorage.Container) Info {
	in := Info{ID: c.ID, ImageID: c.ImageID}
	if len(c.Names) > 0 {
		in.Name = c.Names[0]
	}
	_ = json.Unmarshal([]byte(c.Metadata), &in.Metadata)
	if dir, err := store.ContainerRunDirectory(c.ID); err == nil {
		in.State = monitor.LoadState(dir)
	}
	in.State = removingState(in.State, in.Metadata.Remove, func() (int, bool) { return keptExitCode(c.ID) })
	in.LogPath, _ = logFile(store, c.ID)
	return in
}

// removingState is the state of a --rm container read while its cleanup
// deletes it: storage removes the run directory, where the state is,
// before the record, so a reader that found the record may find no state
// (created, no exit code: `wait` printed -1). The cleanup kept the exit
// code before it began; with it, the container is what it was, exited
// with its code.
func removingState(st monitor.State, remove bool, kept func() (int, bool)) monitor.State {
	if !remove || st.ExitCode != nil || st.Status == monitor.StatusRunning {
		return st
	}
	code, ok := kept()
	if !ok {
		return st
	}
	return monitor.State{Status: monitor.StatusExited, ExitCode: &code}
}

// Signal sends sig to the container's process.
func Signal(in Info, sig syscall.Signal) error {
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return fmt.Errorf("signal %s: %w", in.Name, ErrNotRunning)
	}
	// The event goes first: the monitor writes die as soon as the signal
	// ends the container, and a reader must see kill before it.
	in.emit("kill", "signal", signalNumber(sig))
	if err := syscall.Kill(in.State.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", in.Name, err)
	}
	// SIGKILL ends a paused container as Docker's does; resuming lets any
	// process outside its pid namespace (--pid=host) go too. The paused
	// mark dies with the process it names.
	if sig == syscall.SIGKILL && in.State.Paused {
		_ = resume(in)
	}
	return nil
}

// Wait waits until the container has exited and returns its state.
func Wait(ctx context.Context, store cstorage.Store, ref string) (monitor.State, error) {
	in, err := Get(store, ref)
	if err != nil {
		return monitor.State{}, err
	}
	id := in.ID
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if in.State.Status != monitor.StatusRunning {
			return in.State, nil
		}
		select {
		case <-ctx.Done():
			return in.State, ctx.Err()
		case <-tick.C:
		}
		if in, err = Get(store, id); err != nil {
			// Removed by its cleanup (--rm) while we waited, which
			// left the exit code behind.
			st := monitor.State{Status: monitor.StatusExited}
			if code, ok := keptExitCode(id); ok {
				st.ExitCode = &code
				return st, nil
			}
			return st, err
		}
	}
}

// Restart stops the container ref (timeout as Stop's) and starts it
// again, writing Docker's restart event after the start.
func Restart(ctx context.Context, store cstorage.Store, ref string, timeout time.Duration, o StartOptions) (int, error) {
	if err := Stop(ctx, store, ref, timeout); err != nil {
		return 1, err
	}
	code, err := Start(ctx, store, ref, o)
	if err != nil {
		return code, err
	}
	if in, err := Get(store, ref); err == nil {
		in.emit("restart")
	}
	return 0, nil
}

// Stop sends the container's stop signal (SIGTERM unless --stop-signal
// said otherwise), and SIGKILL when it has not exited after timeout; a
// negative timeout is the container's --stop-timeout, or 10 s.
func Stop(ctx context.Context, store cstorage.Store, ref string, timeout time.Duration) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if in.State.Status != monitor.StatusRunning {
		return nil
	}
	if timeout < 0 {
		// Neither -t given: the container's --stop-timeout, else 10 s.
		timeout = 10 * time.Second
		if in.Metadata.StopTimeout != nil {
			timeout = time.Duration(*in.Metadata.StopTimeout) * time.Second
		}
	}
	// The restart policy must not bring it back.
	if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
		_ = monitor.RequestStop(dir)
	}
	sig := syscall.SIGTERM
	if in.Metadata.StopSignal != "" {
		if s, err := ParseSignal(in.Metadata.StopSignal); err == nil {
			sig = s
		}
	}
	if err := Signal(in, sig); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	// A paused container acts on its stop signal once resumed.
	if in.State.Paused {
		if err := resume(in); err != nil {
			return fmt.Errorf("stop %s: %w", in.Name, err)
		}
		if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
			_ = monitor.ClearPaused(dir)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := Wait(wctx, store, in.ID); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		in.emit("stop")
		return nil
	}
	if err := Signal(in, syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	_, err = Wait(ctx, store, in.ID)
	if err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		return err
	}
	in.emit("stop")
	return nil
}

// Remove deletes a container that is not running; with force it kills a
// running one first.
func Remove(ctx context.Context, store cstorage.Store, ref string, force bool) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	// A --rm container killed here is also removed by its own cleanup
	// (CleanupMain) once it has exited: whichever deletes it first takes
	// its anonymous volumes and writes destroy, the other finds it gone.
	var autoVols []string
	if in.State.Status == monitor.StatusRunning {
		if !force {
			return fmt.Errorf("container %s: %w: stop it first or use -f", in.Name, ErrRunning)
		}
		if in.Metadata.Remove {
			if c, err := store.Container(in.ID); err == nil {
				autoVols = ContainerVolumes(c)
			}
		}
		if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
			_ = monitor.RequestStop(dir)
		}
		if err := Signal(in, syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := Wait(wctx, store, in.ID); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
			return err
		}
	}
	_, _ = store.Unmount(in.ID, true)
	in.Metadata.networkOf().releaseUser(store, in.ID)
	if err := store.DeleteContainer(in.ID); err != nil {
		if errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrNotAContainer) {
			return nil // gone meanwhile: its cleanup removed it
		}
		return fmt.Errorf("remove container %s: %w", in.Name, err)
	}
	_ = RemoveAnonymousVolumes(store, autoVols)
	in.emit("destroy")
	return nil
}

// Docker's wait conditions.
const (
	WaitNotRunning = "not-running" // the container is not running (now, or once it exits)
	WaitNextExit   = "next-exit"   // the next exit: a container not running is waited for to start first
	WaitRemoved    = "removed"     // the next exit and the container's removal (--rm)
)

// WaitFor waits for cond on the container ref and returns its exit code;
// ok is false when nobody saw the exit. It is Docker's wait for API
// clients, which ask before they start a container (docker run).
func WaitFor(ctx context.Context, store cstorage.Store, ref, cond string) (code int, ok bool, err error) {
	in, err := Get(store, ref)
	if err != nil {
		return 0, false, err
	}
	id := in.ID
	poll := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
			return nil
		}
	}
	if cond != WaitNotRunning && in.State.Status != monitor.StatusRunning {
		// A start shows as a new StartedAt: a fast container may have
		// run and exited between two looks.
		started := in.State.StartedAt
		for in.State.Status != monitor.StatusRunning && in.State.StartedAt.Equal(started) {
			if err := poll(); err != nil {
				return 0, false, err
			}
			if in, err = Get(store, id); err != nil {
				if c, ok := keptExitCode(id); ok && cond == WaitRemoved {
					return c, true, nil
				}
				return 0, false, err
			}
		}
	}
	st, err := Wait(ctx, store, id)
	if err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		return 0, false, err
	}
	if st.ExitCode != nil {
		code, ok = *st.ExitCode, true
	}
	if cond == WaitRemoved {
		for {
			if _, err := Get(store, id); errors.Is(err, cstorage.ErrContainerUnknown) {
				break
			}
			if err := poll(); err != nil {
				return 0, false, err
			}
		}
		if !ok {
			code, ok = keptExitCode(id)
		}
	}
	return code, ok, nil
}
