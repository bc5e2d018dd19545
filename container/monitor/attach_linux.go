package monitor

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/internal/peercred"
)

// The attach protocol, on the container's attach socket
// (Request.AttachSocket), served by its monitor. Every message is a frame:
// one byte of kind, a big-endian u32 length, the payload.
const (
	FrameStdin  = 0 // client → monitor: bytes for the container's stdin
	FrameStdout = 1 // monitor → client
	FrameStderr = 2 // monitor → client
	FrameExit   = 3 // monitor → client: the exit code, in decimal
	FrameResize = 4 // client → monitor: "ROWS COLS"
	FrameEOF    = 5 // client → monitor: close the container's stdin
	FrameSignal = 6 // client → monitor: a signal number for the process
)

// WriteFrame writes one frame of kind to w.
func WriteFrame(w io.Writer, kind byte, payload []byte) error {
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(append(h[:], payload...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame from r.
func ReadFrame(r io.Reader) (byte, []byte, error) {
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

func newHub(path string, buffer bool) (*hub, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	// Only the user's own clients (its CLI, the API service) may attach
	// to the container: another user is refused even should the
	// socket's mode let them connect.
	ln = peercred.Listener{Listener: ln}
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
		kind, b, err := ReadFrame(c)
		if err != nil {
			return
		}
		h.mu.Lock()
		stdin, console, signal := h.stdin, h.console, h.signal
		h.mu.Unlock()
		switch kind {
		case FrameStdin:
			if stdin != nil {
				_, _ = stdin.Write(b)
			}
		case FrameEOF:
			if stdin != nil && console == nil {
				_ = stdin.Close()
			}
		case FrameResize:
			var rows, cols uint16
			if _, err := fmt.Sscanf(string(b), "%d %d", &rows, &cols); err == nil && console != nil {
				_ = unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
			}
		case FrameSignal:
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
		if err := WriteFrame(c, kind, b); err != nil {
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
	h.send(FrameExit, []byte(strconv.Itoa(code)))
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
