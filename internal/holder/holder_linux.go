package holder

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Run holds o.Listener until it has been idle for o.Idle or a signal
// arrives on sigs, starting the server whenever a client connects while
// none runs. A signal is passed on to a running server, which is waited
// for. It returns nil on an idle exit or a signal, or the server's
// failure (ErrServer).
func Run(o Options, sigs <-chan os.Signal) error {
	// The server is told to end with the holder (Pdeathsig), which the
	// kernel ties to the thread that started it: this one, kept.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if o.Remove != "" {
		defer os.Remove(o.Remove)
	}
	// The server gets the socket as fd 3 and as nothing else: a copy
	// under another number would go on to the monitors it starts, which
	// would then accept the service's clients.
	unix.CloseOnExec(int(o.Listener.Fd()))
	wait := o.Idle
	for {
		ready := make(chan error, 1)
		go func() { ready <- waitReadable(o.Listener, wait) }()
		select {
		case <-sigs:
			return nil
		case err := <-ready:
			if errors.Is(err, errTimeout) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if signalled, err := serve(o, sigs); err != nil || signalled {
			return err
		}
		// The server left idle: ServerIdle of the holder's Idle is spent.
		if o.Idle > 0 {
			if wait = o.Idle - o.ServerIdle; wait <= 0 {
				return nil
			}
		}
	}
}

// serve runs the server until it exits. A signal on sigs is passed on,
// and signalled says so: Run then ends with the server.
func serve(o Options, sigs <-chan os.Signal) (signalled bool, err error) {
	cmd := osexec.Command(o.Server[0], o.Server[1:]...)
	cmd.Env = o.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{o.Listener}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start the server: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			signalled = true
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			var ee *osexec.ExitError
			if signalled && errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
				return true, nil // ended by the signal passed on, as asked
			}
			if err != nil {
				return signalled, fmt.Errorf("%w: %v", ErrServer, err)
			}
			return signalled, nil
		}
	}
}

var errTimeout = errors.New("idle")

// waitReadable waits until a connection waits on ln, or timeout has
// passed (errTimeout; 0 waits for ever).
func waitReadable(ln *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ms := -1
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return errTimeout
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(ln.Fd()), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("wait for a connection: %w", err)
		case n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0:
			return errors.New("wait for a connection: the socket failed")
		case n > 0:
			return nil
		}
	}
}
