package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
)

var zeroIPv4 = netip.IPv4Unspecified()

// muxWriter frames what it is given with Docker's 8-byte stream header
// (stream, three zero bytes, big-endian length), the format of attach,
// exec and logs without a TTY.
type muxWriter struct {
	w      io.Writer
	stream byte
}

func (m *muxWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	buf := make([]byte, 8+len(b))
	buf[0] = m.stream
	binary.BigEndian.PutUint32(buf[4:], uint32(len(b)))
	copy(buf[8:], b)
	if _, err := m.w.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush makes streamWriter an http.Flusher for the headers.
func (s *streamWriter) Flush() {
	if s.f != nil {
		s.f.Flush()
	}
}

// jsonLine writes v as one line of JSON.
func jsonLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return err
}

// hijack takes the connection over for a raw stream, answering 101 to a
// client that asked to upgrade (Docker's CLI and SDKs) and 200 otherwise.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over for a stream")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n"
	if r.Header.Get("Upgrade") != "" {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	head += "Api-Version: " + Version + "\r\n\r\n"
	if _, err := rw.WriteString(head); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// streamType is the content type of a stream with or without a TTY.
func streamType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// attachTable tracks the API's attach clients per container, so that a
// start knows one waits (the monitor then keeps the output for it) and a
// resize reaches the container through it.
type attachTable struct {
	mu sync.Mutex
	m  map[string]*attachSession
}

type attachSession struct {
	waiting int // clients attached before the container started
	resize  chan [2]uint16
	clients int
}

func (t *attachTable) add(id string, waiting bool) *attachSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[id]
	if s == nil {
		s = &attachSession{resize: make(chan [2]uint16, 1)}
		t.m[id] = s
	}
	s.clients++
	if waiting {
		s.waiting++
	}
	return s
}

// started says the waiting client has connected (or given up).
func (t *attachTable) started(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.m[id]; s != nil && s.waiting > 0 {
		s.waiting--
	}
}

func (t *attachTable) done(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.m[id]; s != nil {
		s.clients--
		if s.clients <= 0 {
			delete(t.m, id)
		}
	}
}

// pending reports whether a client attached to id before it started.
func (t *attachTable) pending(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[id]
	return s != nil && s.waiting > 0
}

// resize sets the terminal size of container id: through an attached
// client's connection when there is one (a second connection to a
// monitor that keeps output for its first client would take it), else
// through a connection of its own.
func (t *attachTable) resize(id string, rows, cols uint16) error {
	t.mu.Lock()
	s := t.m[id]
	t.mu.Unlock()
	if s != nil {
		select {
		case <-s.resize: // the newest size wins
		default:
		}
		s.resize <- [2]uint16{rows, cols}
		return nil
	}
	return container.Resize(id, rows, cols)
}

// attachContainer is POST /containers/{id}/attach: the container's
// streams over the hijacked connection, until it exits or the client
// leaves. A client that attaches before the start (docker run) waits for
// it.
func (s *Server) attachContainer(w http.ResponseWriter, r *http.Request) {
	store := s.o.Store
	in, err := container.Get(store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	tty, _ := container.HasTerminal(store, in.ID)
	stdin, stdout, stderr := boolParam(r, "stdin"), boolParam(r, "stdout"), boolParam(r, "stderr")
	waiting := in.State.Status != monitor.StatusRunning
	sess := s.attaches.add(in.ID, waiting)
	defer s.attaches.done(in.ID)
	conn, rw, err := hijack(w, r, streamType(tty))
	if err != nil {
		if waiting {
			s.attaches.started(in.ID)
		}
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The client's end closing (it read nothing more from us) ends the
	// wait for a start that never comes.
	if waiting {
		err := waitRunning(ctx, store, in.ID, conn)
		s.attaches.started(in.ID)
		if err != nil {
			return
		}
		if in, err = container.Get(store, in.ID); err != nil {
			return
		}
	}
	var out, errw io.Writer = io.Discard, io.Discard
	var wmu sync.Mutex
	cw := &lockedWriter{mu: &wmu, w: conn}
	switch {
	case tty:
		if stdout {
			out = cw
		}
		if stderr {
			errw = cw
		}
	default:
		if stdout {
			out = &muxWriter{w: cw, stream: 1}
		}
		if stderr {
			errw = &muxWriter{w: cw, stream: 2}
		}
	}
	// The client hanging up, or a write to it failing, ends the attach
	// and frees its connection to the monitor.
	gone := make(chan struct{})
	var goneOnce sync.Once
	leave := func() { goneOnce.Do(func() { close(gone) }) }
	cw.onErr = leave
	go func() {
		for {
			select {
			case <-gone:
				return
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			if !alive(conn) {
				leave()
				return
			}
		}
	}()
	o := container.AttachOptions{DetachKeys: r.URL.Query().Get("detachKeys"), NoStdin: !stdin, Stdout: out, Stderr: errw, Resize: sess.resize, Gone: gone}
	if stdin {
		o.Stdin = rw.Reader
	}
	_, _ = container.Attach(in, tty, o)
	// A half-close tells the client its output is complete; it closes.
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
}

// waitRunning waits until container id runs or has run (a fast one may
// have exited already: its monitor keeps the output for this client).
func waitRunning(ctx context.Context, store cstorage.Store, id string, conn net.Conn) error {
	deadline := time.Now().Add(24 * time.Hour)
	for time.Now().Before(deadline) {
		in, err := container.Get(store, id)
		if err != nil {
			return err
		}
		if in.State.Status != monitor.StatusCreated && in.State.Status != "" {
			return nil
		}
		if !alive(conn) {
			return io.EOF
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return context.DeadlineExceeded
}

// alive reports whether the client still holds its end. Its end closed
// for writing is not enough (Docker's CLI half-closes when it sends no
// stdin): only a connection hung up both ways is gone.
func alive(conn net.Conn) bool {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return true
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	_ = rc.Control(func(fd uintptr) { ok = !hungUp(int(fd)) })
	return ok
}

type lockedWriter struct {
	mu    *sync.Mutex
	w     io.Writer
	onErr func() // called when a write fails: the client is gone
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(b)
	if err != nil && l.onErr != nil {
		l.onErr()
	}
	return n, err
}

// execTable holds the exec instances created and not yet forgotten:
// Docker's exec IDs live as long as the server, as its daemon's do.
type execTable struct {
	mu sync.Mutex
	m  map[string]*execSession
}

type execSession struct {
	ID          string
	ContainerID string
	Config      dockercontainer.ExecCreateRequest
	mu          sync.Mutex
	Running     bool
	Started     bool
	ExitCode    *int
	resize      chan [2]uint16
}

// running reports whether any exec instance's process runs.
func (t *execTable) running() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.m {
		e.mu.Lock()
		r := e.Running
		e.mu.Unlock()
		if r {
			return true
		}
	}
	return false
}

func (t *execTable) get(id string) (*execSession, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[id]
	if e == nil {
		return nil, notFound("no such exec instance: %s", id)
	}
	return e, nil
}

// execCreate is POST /containers/{id}/exec.
func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req dockercontainer.ExecCreateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if len(req.Cmd) == 0 {
		writeError(w, badRequest("no exec command specified"))
		return
	}
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if in.State.Status != monitor.StatusRunning {
		writeError(w, fmt.Errorf("container %s: %w", in.ID, container.ErrNotRunning))
		return
	}
	if in.State.Paused {
		writeError(w, fmt.Errorf("container %s: %w: unpause it first", in.ID, container.ErrPaused))
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	e := &execSession{ID: hex.EncodeToString(b), ContainerID: in.ID, Config: req, resize: make(chan [2]uint16, 1)}
	s.execs.mu.Lock()
	// Forget finished instances beyond a bound, so that a client that
	// execs in a loop does not grow the server for ever.
	if len(s.execs.m) > 1000 {
		for id, old := range s.execs.m {
			old.mu.Lock()
			done := old.Started && !old.Running
			old.mu.Unlock()
			if done {
				delete(s.execs.m, id)
			}
		}
	}
	s.execs.m[e.ID] = e
	s.execs.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"Id": e.ID})
}

// execStart is POST /exec/{id}/start: detached, or attached over the
// hijacked connection with the multiplexed stream (raw with a TTY).
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	var req dockercontainer.ExecStartRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	e.mu.Lock()
	if e.Started {
		e.mu.Unlock()
		writeError(w, &statusError{code: http.StatusConflict, err: fmt.Errorf("exec %s has already been started", e.ID)})
		return
	}
	e.Started, e.Running = true, true
	e.mu.Unlock()
	cfg := e.Config
	tty := cfg.Tty || req.Tty
	o := container.ExecOptions{Args: cfg.Cmd, Env: cfg.Env, User: cfg.User, Workdir: cfg.WorkingDir, TTY: tty,
		Privileged: cfg.Privileged, Resize: e.resize}
	finish := e.finish
	if size := req.ConsoleSize; size != nil && tty {
		e.resize <- [2]uint16{uint16(size[0]), uint16(size[1])}
	} else if size := cfg.ConsoleSize; size != nil && tty {
		e.resize <- [2]uint16{uint16(size[0]), uint16(size[1])}
	}
	if req.Detach {
		// The process is the server's child: the server waits for it to
		// learn its exit code, and a detached exec needs no stream.
		pr, pw, err := os.Pipe()
		if err != nil {
			finish(exec.ExitLodger)
			writeError(w, err)
			return
		}
		o.Stdout, o.Stderr = pw, pw
		go func() { _, _ = io.Copy(io.Discard, pr); pr.Close() }()
		go func() {
			code, _ := container.Exec(context.Background(), s.o.Store, e.ContainerID, o)
			pw.Close()
			finish(code)
		}()
		w.WriteHeader(http.StatusOK)
		return
	}
	conn, rw, err := hijack(w, r, streamType(tty))
	if err != nil {
		finish(exec.ExitLodger)
		return
	}
	defer conn.Close()
	s.runExec(e, o, cfg, tty, conn, rw.Reader)
}

// finish records the exec's end.
func (e *execSession) finish(code int) {
	e.mu.Lock()
	e.Running, e.ExitCode = false, &code
	e.mu.Unlock()
}

// runExec runs the exec with pipes for its stdio, copied to and from the
// client's connection.
func (s *Server) runExec(e *execSession, o container.ExecOptions, cfg dockercontainer.ExecCreateRequest, tty bool, conn net.Conn, in io.Reader) {
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	var wmu sync.Mutex
	cw := &lockedWriter{mu: &wmu, w: conn}
	var copies sync.WaitGroup
	pipeOut := func(stream byte, want bool) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, r, w)
		var dst io.Writer = io.Discard
		if want {
			dst = cw
			if !tty {
				dst = &muxWriter{w: cw, stream: stream}
			}
		}
		copies.Add(1)
		go func() {
			defer copies.Done()
			// A client gone stops nothing: the output is drained so
			// that the process never blocks on a full pipe.
			if _, err := io.Copy(dst, r); err != nil {
				_, _ = io.Copy(io.Discard, r)
			}
		}()
		return w, nil
	}
	var err error
	if o.Stdout, err = pipeOut(1, cfg.AttachStdout); err != nil {
		e.finish(exec.ExitLodger)
		return
	}
	if tty {
		o.Stderr = o.Stdout
	} else if o.Stderr, err = pipeOut(2, cfg.AttachStderr); err != nil {
		e.finish(exec.ExitLodger)
		return
	}
	if cfg.AttachStdin {
		r, w, err := os.Pipe()
		if err != nil {
			e.finish(exec.ExitLodger)
			return
		}
		closers = append(closers, r, w)
		o.Stdin, o.Interactive = r, true
		go func() {
			_, _ = io.Copy(w, in)
			w.Close() // the client closed its input: EOF for the process
		}()
	}
	code, err := container.Exec(context.Background(), s.o.Store, e.ContainerID, o)
	if err != nil {
		fmt.Fprintf(o.Stderr, "lodger: %v\n", err)
	}
	// Only the process (and what it left behind) holds the write ends
	// now; a child left holding them does not hold the client for ever.
	o.Stdout.Close()
	if o.Stderr != o.Stdout {
		o.Stderr.Close()
	}
	done := make(chan struct{})
	go func() { copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	// The exit code is known before the client, seeing the end, asks
	// for it.
	e.finish(code)
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
}

// execResize is POST /exec/{id}/resize.
func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	rows, cols, err := sizeParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	select {
	case <-e.resize:
	default:
	}
	e.resize <- [2]uint16{rows, cols}
	w.WriteHeader(http.StatusOK)
}

// execInspect is GET /exec/{id}/json.
func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.Config
	resp := dockercontainer.ExecInspectResponse{ID: e.ID, Running: e.Running, OpenStdin: c.AttachStdin, OpenStdout: c.AttachStdout,
		OpenStderr: c.AttachStderr, ContainerID: e.ContainerID, DetachKeys: []byte(c.DetachKeys),
		ProcessConfig: &dockercontainer.ExecProcessConfig{Tty: c.Tty, Privileged: &c.Privileged, User: c.User}}
	if len(c.Cmd) > 0 {
		resp.ProcessConfig.Entrypoint, resp.ProcessConfig.Arguments = c.Cmd[0], c.Cmd[1:]
	}
	if e.ExitCode != nil {
		code := *e.ExitCode
		resp.ExitCode = &code
	}
	writeJSON(w, http.StatusOK, resp)
}
