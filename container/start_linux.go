package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/storage"
)

// StartOptions are what `lodger start` takes.
type StartOptions struct {
	// Attach follows the container's output until it exits and returns
	// its exit code.
	Attach bool
	// Attached says a client attaches to the monitor at once (the API's
	// attach before start): the output until it connects is kept for it.
	Attached       bool
	Storage        storage.Options
	Stdout, Stderr io.Writer
	// Signals, with Attach, are passed to the container's process, as
	// Docker's start -a forwards them (each a kill event).
	Signals <-chan os.Signal
}

// Start runs a created or exited container again under a monitor, from the
// spec create saved. With Attach it returns the container's exit code.
func Start(ctx context.Context, store cstorage.Store, ref string, o StartOptions) (int, error) {
	in, err := Get(store, ref)
	if err != nil {
		return exec.ExitLodger, err
	}
	if in.State.Status == monitor.StatusRunning {
		if o.Attach {
			return exec.ExitLodger, fmt.Errorf("container %s is running already", in.Name)
		}
		return 0, nil // as Docker: starting a running container is no error
	}
	// The previous run's monitor unmounts the rootfs as it ends; let it
	// finish first, or it would unmount under this run.
	for deadline := time.Now().Add(10 * time.Second); monitor.Alive(in.State.MonitorPid) && in.State.MonitorPid != os.Getpid(); {
		if time.Now().After(deadline) {
			return exec.ExitLodger, fmt.Errorf("container %s: its previous monitor (pid %d) does not end", in.Name, in.State.MonitorPid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The networks' gateways start while the rootfs is mounted.
	defer in.Metadata.networkOf().warmUser(store, in.ID)()
	spec, err := loadSpec(store, in.ID)
	if err != nil {
		return exec.ExitLodger, err
	}
	rootfs, err := store.Mount(in.ID, "")
	if err != nil {
		return exec.ExitLodger, fmt.Errorf("mount container rootfs: %w", err)
	}
	spec.Root.Path = rootfs
	// Output of earlier runs stays in the log; -a shows this run's.
	var from int64
	if fi, err := os.Stat(in.LogPath); err == nil {
		from = fi.Size()
	}
	if o.Attach {
		in.emit("attach") // before the start, as Docker's start -a
	}
	mounted := emitVolumeMounts(in.ID, spec, in.Metadata.Volumes)
	netSettings := in.Metadata.networkOf()
	listeners, err := netSettings.bindPorts()
	if err != nil {
		_, _ = store.Unmount(in.ID, true)
		return exec.ExitLodger, err
	}
	err = startMonitor(store, o.Storage, netSettings, monitor.Request{ID: in.ID, Spec: spec, Remove: in.Metadata.Remove,
		Restart: in.Metadata.Restart, Log: in.Metadata.logOptions(), EventAttrs: in.eventAttrs(), Health: in.Metadata.Healthcheck,
		Interactive: in.Metadata.Interactive, Attached: o.Attached, Limits: in.Metadata.Limits, Volumes: mounted}, listeners)
	closeListeners(listeners)
	if err != nil {
		_, _ = store.Unmount(in.ID, true)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.Code, err
		}
		return exec.ExitLodger, err
	}
	if !o.Attach {
		return 0, nil
	}
	if o.Signals != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case s := <-o.Signals:
					sig, ok := s.(syscall.Signal)
					if !ok || sig == syscall.SIGWINCH {
						continue
					}
					if cur, err := Get(store, in.ID); err == nil {
						_ = Signal(cur, sig)
					}
				case <-done:
					return
				}
			}
		}()
	}
	// The output comes from the log; with the none driver there is none
	// to show, and start -a only waits (Docker's start -a attaches to the
	// stream instead, which lodger's log stands in for).
	if err := Logs(ctx, store, in.ID, LogOptions{Follow: true, Tail: -1, From: from}, o.Stdout, o.Stderr); err != nil &&
		!errors.Is(err, cstorage.ErrContainerUnknown) && !errors.Is(err, logfile.ErrNotReadable) {
		return exec.ExitLodger, err
	}
	st, err := Wait(ctx, store, in.ID)
	if st.ExitCode != nil {
		return *st.ExitCode, nil
	}
	if err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		return exec.ExitLodger, err
	}
	return exec.ExitLodger, fmt.Errorf("container %s: exit code unknown", in.Name)
}
