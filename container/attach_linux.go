package container

import (
	"encoding/binary"
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
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/rootless"
)

// The attach protocol, on the unix socket attach.sock in the container's
// run directory, served by its monitor. Every message is a frame: one byte
// of kind, a big-endian u32 length, the payload.
const (
	frameStdin  = 0 // client → monitor: bytes for the container's stdin
	frameStdout = 1 // monitor → client
	frameStderr = 2 // monitor → client
	frameExit   = 3 // monitor → client: the exit code, in decimal
	frameResize = 4 // client → monitor: "ROWS COLS"
	frameEOF    = 5 // client → monitor: close the container's stdin
	frameSignal = 6 // client → monitor: a signal number for the process
)

// attachPath is the container's attach socket. A unix socket path holds
// at most 107 bytes, so it lives in lodger's own run directory under a
// short name, not in storage's (long) container run directory.
func attachPath(id string) string {
	return filepath.Join(rootless.RunDir(), "attach", id[:16]+".sock")
}

func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(append(h[:], payload...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("attach frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return h[0], b, err
}

// hub is the monitor's side: it fans the container's output out to the
// attached clients and feeds their input to the container.
type hub struct {
	mu      sync.Mutex
	clients map[net.Conn]bool
	stdin   io.WriteCloser // the pty master or the stdin pipe; nil without -i
	console *os.File       // the pty master, for resizes
	signal  func(syscall.Signal)
	ln      net.Listener
	// backlog keeps what the container writes before the first client
	// (run -it's own CLI) connects, so that it sees the first prompt.
	backlog   []byte
	buffering bool
	path      string
	// first is closed when the first client has connected.
	first chan struct{}
}

func newHub(id string, buffer bool) (*hub, error) {
	path := attachPath(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	h := &hub{clients: map[net.Conn]bool{}, ln: ln, buffering: buffer, path: path, first: make(chan struct{})}
	go h.accept()
	return h, nil
}

func (h *hub) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.buffering {
			_, _ = c.Write(h.backlog)
			h.backlog, h.buffering = nil, false
			close(h.first)
		}
		h.clients[c] = true
		h.mu.Unlock()
		go h.serve(c)
	}
}

func (h *hub) serve(c net.Conn) {
	defer h.drop(c)
	for {
		kind, b, err := readFrame(c)
		if err != nil {
			return
		}
		h.mu.Lock()
		stdin, console, signal := h.stdin, h.console, h.signal
		h.mu.Unlock()
		switch kind {
		case frameStdin:
			if stdin != nil {
				_, _ = stdin.Write(b)
			}
		case frameEOF:
			if stdin != nil && console == nil {
				_ = stdin.Close()
			}
		case frameResize:
			var rows, cols uint16
			if _, err := fmt.Sscanf(string(b), "%d %d", &rows, &cols); err == nil && console != nil {
				_ = unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
			}
		case frameSignal:
			if n, err := strconv.Atoi(string(b)); err == nil && signal != nil {
				signal(syscall.Signal(n))
			}
		}
	}
}

func (h *hub) drop(c net.Conn) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.Close()
}

// attachTo sets what the current run of the container reads and is.
func (h *hub) attachTo(stdin io.WriteCloser, console *os.File, signal func(syscall.Signal)) {
	h.mu.Lock()
	h.stdin, h.console, h.signal = stdin, console, signal
	h.mu.Unlock()
}

// send writes a frame to every client; a slow or gone client is dropped
// rather than stalling the container.
func (h *hub) send(kind byte, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buffering {
		if len(h.backlog) < 1<<20 {
			var hd [5]byte
			hd[0] = kind
			binary.BigEndian.PutUint32(hd[1:], uint32(len(b)))
			h.backlog = append(append(h.backlog, hd[:]...), b...)
		}
		return
	}
	for c := range h.clients {
		if err := writeFrame(c, kind, b); err != nil {
			delete(h.clients, c)
			c.Close()
		}
	}
}

// writer is an io.Writer that sends what it gets as frames of kind.
func (h *hub) writer(kind byte) io.Writer { return hubWriter{h, kind} }

type hubWriter struct {
	h    *hub
	kind byte
}

func (w hubWriter) Write(b []byte) (int, error) {
	w.h.send(w.kind, append([]byte(nil), b...))
	return len(b), nil
}

func (h *hub) close(code int) {
	h.send(frameExit, []byte(strconv.Itoa(code)))
	// A container of run -t may end before its CLI connects; the CLI must
	// still get the output and the exit code, which wait in the backlog.
	h.mu.Lock()
	waiting := h.buffering
	h.mu.Unlock()
	if waiting {
		select {
		case <-h.first:
		case <-time.After(30 * time.Second):
		}
	}
	h.ln.Close()
	_ = os.Remove(h.path)
	h.mu.Lock()
	for c := range h.clients {
		c.Close()
	}
	h.mu.Unlock()
}

// AttachOptions are what `lodger attach` takes.
type AttachOptions struct {
	DetachKeys string // "ctrl-p,ctrl-q" by default
	NoStdin    bool
	Stdin      *os.File
	Stdout     io.Writer
	Stderr     io.Writer
	Signals    <-chan os.Signal
}

// ErrDetached says the user left with the detach keys; the container runs on.
var ErrDetached = errors.New("detached")

// Attach connects to a running container's monitor: its output to Stdout
// and Stderr, the user's input to it, until the container exits (its code
// is returned) or the detach keys are typed (ErrDetached).
func Attach(in Info, tty bool, o AttachOptions) (int, error) {
	keys, err := parseDetachKeys(o.DetachKeys)
	if err != nil {
		return exec.ExitLodger, err
	}
	// The socket first: run -t's container may have exited already, and
	// its monitor then still waits with the output and the exit code.
	c, err := net.Dial("unix", attachPath(in.ID))
	if err != nil {
		if in.State.Status != StatusRunning {
			return exec.ExitLodger, fmt.Errorf("container %s is not running", in.Name)
		}
		return exec.ExitLodger, fmt.Errorf("attach to %s: %w", in.Name, err)
	}
	defer c.Close()
	var wmu sync.Mutex
	send := func(kind byte, b []byte) {
		wmu.Lock()
		_ = writeFrame(c, kind, b)
		wmu.Unlock()
	}
	if tty && o.Stdin != nil && term.IsTerminal(int(o.Stdin.Fd())) {
		if !o.NoStdin {
			if st, err := term.MakeRaw(int(o.Stdin.Fd())); err == nil {
				defer term.Restore(int(o.Stdin.Fd()), st)
			}
		}
		if ws, err := unix.IoctlGetWinsize(int(o.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
			send(frameResize, []byte(fmt.Sprintf("%d %d", ws.Row, ws.Col)))
		}
	}
	detached := make(chan struct{})
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
								close(detached)
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
					send(frameStdin, data)
				}
				if err != nil {
					send(frameEOF, nil)
					return
				}
			}
		}()
	}
	go func() {
		for s := range o.Signals {
			if s == unix.SIGWINCH {
				if tty && o.Stdin != nil {
					if ws, err := unix.IoctlGetWinsize(int(o.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
						send(frameResize, []byte(fmt.Sprintf("%d %d", ws.Row, ws.Col)))
					}
				}
				continue
			}
			if sig, ok := s.(syscall.Signal); ok {
				send(frameSignal, []byte(strconv.Itoa(int(sig))))
			}
		}
	}()
	frames := make(chan error, 1)
	code := -1
	go func() {
		for {
			kind, b, err := readFrame(c)
			if err != nil {
				frames <- err
				return
			}
			switch kind {
			case frameStdout:
				_, _ = o.Stdout.Write(b)
			case frameStderr:
				_, _ = o.Stderr.Write(b)
			case frameExit:
				code, _ = strconv.Atoi(string(b))
				frames <- nil
				return
			}
		}
	}()
	select {
	case <-detached:
		return 0, ErrDetached
	case <-frames:
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
