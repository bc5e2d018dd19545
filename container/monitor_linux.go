package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/storage"
)

// MonitorArg is argv[1] of a container's monitor: the detached lodger
// process that starts a detached container, holds its output, writes its
// log and state, and cleans up after it.
const MonitorArg = "_lodger-monitor"

// monitorRequest is what `run -d` hands its monitor on fd 3.
type monitorRequest struct {
	ID      string          `json:"id"`
	Spec    *specs.Spec     `json:"spec"`
	Remove  bool            `json:"remove"`
	Storage storage.Options `json:"storage"`
	Restart RestartPolicy   `json:"restart"`
	// Interactive keeps the container's stdin open for attach; Attached
	// says the starting CLI attaches at once (run -it), so output before
	// it connects is kept for it.
	Interactive bool  `json:"interactive,omitempty"`
	Attached    bool  `json:"attached,omitempty"`
	LogMaxSize  int64 `json:"logMaxSize,omitempty"`
	// Network is the container's; its published host ports, bound by
	// the CLI, come as fds 5 and up, in the order of Ports.
	Network NetworkSettings `json:"network"`
	Ports   []ports.Mapping `json:"ports,omitempty"`
}

// firstPortFd is the monitor's fd of the first published port.
const firstPortFd = 5

// logFile is the container's log, in storage's persistent container
// directory: one line per output line, "RFC3339NANO STREAM TEXT".
func logFile(store cstorage.Store, id string) (string, error) {
	dir, err := store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ctr.log"), nil
}

// startMonitor starts the monitor for a created and mounted container and
// returns once the container's process runs, or with the init's error.
func startMonitor(req monitorRequest, listeners []ports.Listener) error {
	portFiles, err := listenerFiles(listeners)
	if err != nil {
		return fmt.Errorf("published ports: %w", err)
	}
	defer closeFiles(portFiles)
	req.Ports = published(listeners)
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer reqR.Close()
	defer reqW.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	defer readyW.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := osexec.Command(self, MonitorArg, req.ID)
	cmd.ExtraFiles = append([]*os.File{reqR, readyW}, portFiles...)
	cmd.Dir = "/"
	// Its own session: no terminal signal, and no death of the CLI, reaches
	// the monitor or the container.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	reqR.Close()
	readyW.Close()
	go func() { _ = cmd.Wait() }()
	if err := json.NewEncoder(reqW).Encode(req); err != nil {
		return fmt.Errorf("send monitor request: %w", err)
	}
	reqW.Close()
	msg, _ := io.ReadAll(io.LimitReader(readyR, 64<<10))
	switch {
	case string(msg) == "ok":
		return nil
	case len(msg) == 0:
		return fmt.Errorf("monitor exited before the container started")
	}
	code, text, _ := strings.Cut(string(msg), " ")
	n, err := strconv.Atoi(code)
	if err != nil {
		n = exec.ExitLodger
	}
	return &exec.ExitError{Code: n, Err: errors.New(text)}
}

// MonitorMain is the monitor process; main dispatches here when os.Args[1]
// is MonitorArg.
func MonitorMain() int {
	ready := os.NewFile(4, "ready")
	var req monitorRequest
	if err := json.NewDecoder(os.NewFile(3, "request")).Decode(&req); err != nil {
		fmt.Fprintf(ready, "%d read monitor request: %v", exec.ExitLodger, err)
		return 1
	}
	var portFiles []*os.File
	for i := range req.Ports {
		portFiles = append(portFiles, os.NewFile(uintptr(firstPortFd+i), "port"))
	}
	listeners, err := listenersFrom(req.Ports, portFiles)
	if err != nil {
		fmt.Fprintf(ready, "%d %v", exec.ExitLodger, err)
		return 1
	}
	store, err := storage.Open(req.Storage)
	if err != nil {
		closeListeners(listeners)
		fmt.Fprintf(ready, "%d %v", exec.ExitLodger, err)
		return 1
	}
	defer store.Shutdown(false)
	code := monitor(store, req, listeners, ready)
	_, _ = store.Unmount(req.ID, true)
	if req.Remove {
		var vols []string
		if c, err := store.Container(req.ID); err == nil {
			vols = ContainerVolumes(c)
		}
		// --rm takes the anonymous volumes too, as in Docker.
		if store.DeleteContainer(req.ID) == nil {
			_ = RemoveAnonymousVolumes(store, vols)
		}
	}
	return code
}

func monitor(store cstorage.Store, req monitorRequest, listeners []ports.Listener, ready *os.File) int {
	fail := func(code int, err error) int {
		closeListeners(listeners)
		fmt.Fprintf(ready, "%d %v", code, err)
		ready.Close()
		return code
	}
	runDir, err := store.ContainerRunDirectory(req.ID)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	logPath, err := logFile(store, req.ID)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	log, err := openLog(logPath, req.LogMaxSize)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	defer log.Close()
	_ = os.Remove(filepath.Join(runDir, stopRequested))
	var logMu sync.Mutex
	netw, err := req.Network.open(listeners, func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(log, "%s stderr F lodger: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	})
	listeners = nil
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	if netw != nil {
		defer netw.Close()
	}

	h, err := newHub(req.ID, req.Attached)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	st := State{MonitorPid: os.Getpid(), BootID: bootID(), Remove: req.Remove, Ports: req.Ports}
	delay := 100 * time.Millisecond
	lastCode := 0
	defer func() { h.close(lastCode) }()
	for {
		code, err := runOnce(req, log, h, runDir, &st, ready, hooks(netw))
		if netw != nil {
			netw.Detach()
		}
		lastCode = code
		if err != nil {
			if ready != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return fail(ee.Code, ee.Err)
				}
				return fail(exec.ExitLodger, err)
			}
			// A restart that cannot start ends the container.
			fmt.Fprintf(log, "%s stderr F lodger: restart: %v\n", time.Now().UTC().Format(time.RFC3339Nano), err)
			code = exec.ExitLodger
		}
		ready = nil
		st.Status, st.ExitCode, st.FinishedAt, st.Pid = StatusExited, &code, time.Now().UTC(), 0
		ranFor := st.FinishedAt.Sub(st.StartedAt)
		_ = SaveState(runDir, st)
		if err != nil || !req.Restart.again(code, st.RestartCount, stopWasRequested(runDir)) {
			return 0
		}
		// A growing delay, as Docker's: doubled per restart, reset once the
		// container ran for 10 s, capped at a minute.
		if ranFor > 10*time.Second {
			delay = 100 * time.Millisecond
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Minute)
		if stopWasRequested(runDir) {
			return 0
		}
		st.RestartCount++
	}
}

// runOnce starts the container, reports to ready (when not nil) and waits
// for it, copying its output into the log.
func runOnce(req monitorRequest, log io.Writer, h *hub, runDir string, st *State, ready *os.File, hooks exec.Hooks) (int, error) {
	var stdio exec.Stdio
	var outR, errR, stdinR *os.File
	var stdinW *os.File
	if !req.Spec.Process.Terminal {
		var outW, errW *os.File
		var err error
		if outR, outW, err = os.Pipe(); err != nil {
			return 0, err
		}
		defer outR.Close()
		defer outW.Close()
		if errR, errW, err = os.Pipe(); err != nil {
			return 0, err
		}
		defer errR.Close()
		defer errW.Close()
		stdio = exec.Stdio{Out: outW, Err: errW}
		if req.Interactive {
			if stdinR, stdinW, err = os.Pipe(); err != nil {
				return 0, err
			}
			defer stdinR.Close()
			defer stdinW.Close()
			stdio.In = stdinR
		}
	}
	p, err := exec.Start(req.Spec, stdio, hooks)
	for _, f := range []*os.File{stdio.Out, stdio.Err, stdinR} {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		return 0, err
	}
	signal := func(sig syscall.Signal) { _ = p.Signal(sig) }
	streams := []struct {
		name string
		kind byte
		r    io.Reader
	}{{"stdout", frameStdout, outR}, {"stderr", frameStderr, errR}}
	if console := p.Console(); console != nil {
		defer console.Close()
		h.attachTo(console, console, signal)
		streams = streams[:1]
		streams[0].r = console
	} else if stdinW != nil {
		h.attachTo(stdinW, nil, signal)
	} else {
		h.attachTo(nil, nil, signal)
	}
	st.Status, st.Pid, st.StartedAt, st.ExitCode = StatusRunning, p.Pid(), time.Now().UTC(), nil
	st.FinishedAt = time.Time{}
	if err := SaveState(runDir, *st); err != nil {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
		return 0, err
	}
	if ready != nil {
		_, _ = ready.WriteString("ok")
		ready.Close()
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyLog(log, &mu, s.name, io.TeeReader(s.r, h.writer(s.kind)))
		}()
	}
	code, _ := p.Wait()
	// The pipes end when every holder of them (the process and anything
	// it left behind) is gone, so the last lines before exit are never
	// lost. In its own pid namespace everything dies with the process;
	// with --pid host a child it left may hold them open for ever, so the
	// wait for the rest of the output is bounded.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		for _, st := range streams {
			if f, ok := st.r.(*os.File); ok && f != nil {
				f.Close()
			}
		}
		<-done
	}
	return code, nil
}

// copyLog writes each line of r to log with a timestamp, the stream, and F
// for a full line or P for a part of a line longer than the buffer (or cut
// by the end of the stream).
func copyLog(log io.Writer, mu *sync.Mutex, stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			tag, text := "P", chunk
			if chunk[len(chunk)-1] == '\n' {
				tag, text = "F", chunk[:len(chunk)-1]
			}
			mu.Lock()
			fmt.Fprintf(log, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, text)
			mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
