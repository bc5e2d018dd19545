package container

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/rootless"
)

// AttachOptions are what `lodger attach` takes.
type AttachOptions struct {
	DetachKeys string // "ctrl-p,ctrl-q" by default
	NoStdin    bool
	// Stdin is the user's input; a terminal is put in raw mode and its
	// size followed.
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Signals <-chan os.Signal
	// NoSigProxy is --sig-proxy=false: the signals on Signals are not
	// passed to the container; SIGINT, SIGTERM or SIGHUP detach instead
	// (a *SignalDetachError), leaving the container running, as Docker's
	// CLI leaves when it does not proxy.
	NoSigProxy bool
	// Resize sets the container terminal's rows and columns, for input
	// that is no terminal (the API's resize).
	Resize <-chan [2]uint16
	// Gone, when closed, ends the attach: the client went away (the API's
	// connection hung up). The container runs on.
	Gone <-chan struct{}
}

// SignalDetachError says a signal ended an attach that does not proxy
// signals: the container runs on. It is ErrDetached to errors.Is.
type SignalDetachError struct{ Signal syscall.Signal }

func (e *SignalDetachError) Error() string { return "detached by " + e.Signal.String() }

// Is makes a SignalDetachError an ErrDetached.
func (e *SignalDetachError) Is(target error) bool { return target == ErrDetached }

// attachPath is the container's attach socket. A unix socket path holds
// at most 107 bytes, so it lives in lodger's own run directory under a
// short name, not in storage's (long) container run directory.
func attachPath(id string) string {
	return filepath.Join(rootless.RunDir(), "attach", id[:16]+".sock")
}

// ErrDetached says the user left with the detach keys; the container runs on.
var ErrDetached = errors.New("detached")

// Attach connects to a running container's monitor: its output to Stdout
// and Stderr, the user's input to it, until the container exits (its code
// is returned) or the detach keys are typed (ErrDetached). It writes
// Docker's attach event, and detach when the keys end it.
func Attach(in Info, tty bool, o AttachOptions) (int, error) {
	return attach(in, tty, o, true)
}

// attach is Attach; run, which wrote its attach event before the start
// as Docker's run does, passes events false.
func attach(in Info, tty bool, o AttachOptions, events bool) (int, error) {
	keys, err := parseDetachKeys(o.DetachKeys)
	if err != nil {
		return exec.ExitLodger, err
	}
	// The socket first: run -t's container may have exited already, and
	// its monitor then still waits with the output and the exit code.
	c, err := net.Dial("unix", attachPath(in.ID))
	if err != nil {
		if in.State.Status != monitor.StatusRunning {
			return exec.ExitLodger, fmt.Errorf("container %s is not running", in.Name)
		}
		return exec.ExitLodger, fmt.Errorf("attach to %s: %w", in.Name, err)
	}
	defer c.Close()
	if events {
		in.emit("attach")
	}
	var wmu sync.Mutex
	send := func(kind byte, b []byte) {
		wmu.Lock()
		_ = monitor.WriteFrame(c, kind, b)
		wmu.Unlock()
	}
	stdinTerm, _ := o.Stdin.(*os.File)
	if stdinTerm != nil && !term.IsTerminal(int(stdinTerm.Fd())) {
		stdinTerm = nil
	}
	if tty && stdinTerm != nil {
		if !o.NoStdin {
			if st, err := term.MakeRaw(int(stdinTerm.Fd())); err == nil {
				defer func() { _ = term.Restore(int(stdinTerm.Fd()), st) }() // nothing to do about a terminal left raw
			}
		}
		if ws, err := unix.IoctlGetWinsize(int(stdinTerm.Fd()), unix.TIOCGWINSZ); err == nil {
			send(monitor.FrameResize, []byte(fmt.Sprintf("%d %d", ws.Row, ws.Col)))
		}
	}
	stopResize := make(chan struct{})
	defer close(stopResize)
	if o.Resize != nil {
		go func() {
			for {
				select {
				case ws := <-o.Resize:
					send(monitor.FrameResize, []byte(fmt.Sprintf("%d %d", ws[0], ws[1])))
				case <-stopResize:
					return
				}
			}
		}()
	}
	detached := make(chan struct{})
	var detachOnce sync.Once
	var bySignal syscall.Signal // set before detached closes
	detach := func(sig syscall.Signal) { detachOnce.Do(func() { bySignal = sig; close(detached) }) }
	if !o.NoStdin && o.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			matched := 0
			for {
				n, err := o.Stdin.Read(buf)
				data := buf[:n]
				if tty && len(keys) > 0 {
					var out []byte
					for _, b := range data {
						if b == keys[matched] {
							matched++
							if matched == len(keys) {
								detach(0)
								return
							}
							continue
						}
						out = append(out, keys[:matched]...)
						matched = 0
						out = append(out, b)
					}
					data = out
				}
				if len(data) > 0 {
					send(monitor.FrameStdin, data)
				}
				if err != nil {
					// The end of the client's input closes the
					// container's only under StdinOnce: otherwise the
					// next attach may still write to it, as Docker's.
					if in.Metadata.StdinOnce {
						send(monitor.FrameEOF, nil)
					}
					return
				}
			}
		}()
	}
	go func() {
		for s := range o.Signals {
			if s == unix.SIGWINCH {
				if tty && stdinTerm != nil {
					if ws, err := unix.IoctlGetWinsize(int(stdinTerm.Fd()), unix.TIOCGWINSZ); err == nil {
						send(monitor.FrameResize, []byte(fmt.Sprintf("%d %d", ws.Row, ws.Col)))
					}
				}
				continue
			}
			sig, ok := s.(syscall.Signal)
			switch {
			case !ok:
			case !o.NoSigProxy:
				send(monitor.FrameSignal, []byte(strconv.Itoa(int(sig))))
			case sig == unix.SIGINT || sig == unix.SIGTERM || sig == unix.SIGHUP:
				detach(sig)
			}
		}
	}()
	frames := make(chan error, 1)
	code := -1
	go func() {
		for {
			kind, b, err := monitor.ReadFrame(c)
			if err != nil {
				frames <- err
				return
			}
			switch kind {
			case monitor.FrameStdout:
				_, _ = o.Stdout.Write(b)
			case monitor.FrameStderr:
				_, _ = o.Stderr.Write(b)
			case monitor.FrameExit:
				code, _ = strconv.Atoi(string(b))
				frames <- nil
				return
			}
		}
	}()
	select {
	case <-detached:
		if bySignal != 0 {
			return 128 + int(bySignal), &SignalDetachError{Signal: bySignal}
		}
		in.emit("detach") // Docker's, for the detach keys alone
		return 0, ErrDetached
	case <-o.Gone:
		return 0, ErrDetached
	case err := <-frames:
		// End of stream, reset or closed: the monitor went away (below);
		// anything else, such as a malformed frame, is said as it is.
		if code < 0 && err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
			!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, net.ErrClosed) {
			return exec.ExitLodger, fmt.Errorf("container %s: read from the monitor: %w", in.Name, err)
		}
	}
	if code < 0 {
		return exec.ExitLodger, fmt.Errorf("container %s: the monitor went away", in.Name)
	}
	return code, nil
}

// parseDetachKeys reads Docker's detach-keys form: "ctrl-p,ctrl-q", single
// characters, or "ctrl-@".."ctrl-_"; "" is the default, "none" disables.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = "ctrl-p,ctrl-q"
	}
	if s == "none" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c < '@' || c > '_' {
				return nil, fmt.Errorf("--detach-keys %q: unknown key %q", s, k)
			}
			out = append(out, c-'@')
		default:
			return nil, fmt.Errorf("--detach-keys %q: unknown key %q", s, k)
		}
	}
	return out, nil
}

// Resize sets the terminal size of the running container id through its
// monitor.
func Resize(id string, rows, cols uint16) error {
	c, err := net.Dial("unix", attachPath(id))
	if err != nil {
		return fmt.Errorf("resize %s: %w", id, ErrNotRunning)
	}
	defer c.Close()
	return monitor.WriteFrame(c, monitor.FrameResize, []byte(fmt.Sprintf("%d %d", rows, cols)))
}
