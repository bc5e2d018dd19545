package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack/dns"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/network/bridge"
)

// Main is the monitor process: cmd/lodger-monitor's main. It reads its
// Request from fd 3 and reports on fd 4: "ok" once the container runs, or
// the init's "CODE MESSAGE".
func Main() int {
	ready := os.NewFile(4, "ready")
	var req Request
	if err := json.NewDecoder(os.NewFile(3, "request")).Decode(&req); err != nil {
		fmt.Fprintf(ready, "%d read monitor request: %v", exec.ExitLodger, err)
		return 1
	}
	// The fds the CLI handed over came without close-on-exec: nothing
	// the monitor starts (a network's gateway, a health check) may keep
	// the CLI's pipes or the published ports open.
	for fd := 3; fd < firstPortFd+len(req.Ports); fd++ {
		syscall.CloseOnExec(fd)
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
	code := monitor(req, listeners, ready)
	cleanup(req.Cleanup)
	return code
}

// cleanup runs the CLI's cleanup command and waits for it. Its failure has
// nobody to tell: the CLI that started the monitor is gone, and with --rm
// so is the log. A later rm does the work again.
func cleanup(c Command) {
	if len(c.Args) == 0 {
		return
	}
	cmd := osexec.Command(c.Args[0], c.Args[1:]...)
	cmd.Stdin = bytes.NewReader(c.Stdin)
	cmd.Dir = "/"
	_ = cmd.Run()
}

func monitor(req Request, listeners []ports.Listener, ready *os.File) int {
	fail := func(code int, err error) int {
		closeListeners(listeners)
		fmt.Fprintf(ready, "%d %v", code, err)
		ready.Close()
		return code
	}
	runDir := req.RunDir
	log, err := logfile.Open(req.LogPath, req.Log)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	defer log.Close()
	_ = os.Remove(filepath.Join(runDir, stopRequested))
	_ = os.Remove(filepath.Join(runDir, restartFile)) // the request's policy is the latest
	_ = os.Remove(filepath.Join(runDir, nameFile))    // and its name
	var names dns.Names
	if req.NetworkRecords != "" {
		names = bridge.ContainerNames(req.NetworkRecords, req.ID, req.DNS)
	}
	netw, err := OpenNetwork(req.Netstack, listeners, names, log.Printf)
	listeners = nil
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	if netw != nil {
		defer netw.Close()
	}
	// A gateway killed while the container runs is started again (the
	// traffic between containers never needed it), for the networks of
	// this start and those a live connect adds.
	keepCtx, stopKeep := context.WithCancel(context.Background())
	defer stopKeep()
	// The gateway's program: the one the CLI named, else this one
	// (lodger-monitor: a network's gateway is one of its modes).
	self, err := os.Executable()
	if len(req.Networks) > 0 {
		self, err = req.Networks[0].Program, nil
	}
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	reloadKept := bridge.Keep(keepCtx, runDir, self, req.Networks)
	// A container with a link of its own (the default network) has its
	// user networks from eth1 on.
	firstIf := 0
	if req.Netstack != nil && req.Netstack.LAN == nil {
		firstIf = 1
	}

	h, err := newHub(req.AttachSocket, req.Attached)
	if err != nil {
		return fail(exec.ExitLodger, err)
	}
	st := State{MonitorPid: os.Getpid(), BootID: BootID(), Remove: req.Remove, Ports: req.Ports}
	delay := 100 * time.Millisecond
	lastCode := 0
	defer func() { h.close(lastCode) }()
	for starts := 0; ; starts++ {
		atts := req.Networks
		if starts > 0 {
			// A restart by policy: the networks are those of now, after
			// any live connect or disconnect.
			if cur, err := bridge.ReadAttachments(runDir); err == nil {
				atts = bridge.ForStart(bridge.WithProgram(cur, self), firstIf)
			}
			reloadKept()
		}
		code, err := runOnce(req, log, h, runDir, &st, ready, Hooks(netw, atts), atts)
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
			log.Printf("restart: %v", err)
			code = exec.ExitLodger
		}
		ready = nil
		st.Status, st.ExitCode, st.FinishedAt, st.Pid = StatusExited, &code, time.Now().UTC(), 0
		ranFor := st.FinishedAt.Sub(st.StartedAt)
		// die before the state says exited: a stop waiting for that
		// writes its stop event after this one, as Docker's order is.
		req.event("die", "exitCode", strconv.Itoa(code))
		if err == nil {
			// The networks it is on now, after any live connect.
			left := atts
			if cur, rerr := bridge.ReadAttachments(runDir); rerr == nil {
				left = cur
			}
			NetworkEvents(events.Open(req.Events), "disconnect", req.ID, left)
		}
		VolumeUnmounts(events.Open(req.Events), req.ID, req.Volumes)
		_ = SaveState(runDir, st)
		if err != nil || !restartPolicy(runDir, req.Restart).again(code, st.RestartCount, stopWasRequested(runDir)) {
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
func runOnce(req Request, log *logfile.Writer, h *hub, runDir string, st *State, ready *os.File, hooks exec.Hooks, atts []bridge.Attachment) (int, error) {
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
	hooks, group, err := Limited(hooks, req.ID, req.Limits)
	if err != nil {
		return 0, err
	}
	defer group.Remove()
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
	}{{"stdout", FrameStdout, outR}, {"stderr", FrameStderr, errR}}
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
	st.Status, st.Pid, st.StartedAt, st.ExitCode, st.OOMKilled = StatusRunning, p.Pid(), time.Now().UTC(), nil, false
	st.Cgroup = nil
	if len(group.Dirs) > 0 {
		st.Cgroup = &group
	}
	st.FinishedAt = time.Time{}
	// The health state is "starting" before the container shows as running
	// (and before run -d returns): an inspect right after must not find a
	// container with a check and no health state.
	if req.Health != nil && req.Health.Args() != nil {
		_ = ResetHealth(runDir)
	}
	if err := SaveState(runDir, *st); err != nil {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
		return 0, err
	}
	NetworkEvents(events.Open(req.Events), "connect", req.ID, atts)
	req.event("start")
	if ready != nil {
		_, _ = ready.WriteString("ok")
		ready.Close()
	}
	// The start is over: what it mapped of the binary need not stay.
	dropStartPages()
	// The health check runs beside the container and writes the state
	// with each result; it ends before the exit is recorded.
	stopHealth := func() {}
	if req.Health != nil && req.Health.Args() != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			CheckHealth(ctx, *req.Health, req.Spec, p.Pid(), st.StartedAt, runDir, func(hs health.State) {
				req.event("health_status: " + hs.Status)
			})
		}()
		stopHealth = func() { cancel(); <-done }
	}
	var wg sync.WaitGroup
	var copied atomic.Int64 // bytes of output read so far
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logfile.Copy(log, s.name, io.TeeReader(countingReader{s.r, &copied}, h.writer(s.kind)))
		}()
	}
	code, _ := p.Wait()
	stopHealth()
	// Docker's oom event comes before the die the caller writes.
	if st.OOMKilled = group.OOMKills() > 0; st.OOMKilled {
		req.event("oom")
	}
	// The pipes end when every holder of them (the process and anything
	// it left behind) is gone, so the last lines before exit are never
	// lost. In its own pid namespace everything dies with the process;
	// with --pid host a child it left may hold them open for ever, so the
	// wait for the rest of the output is bounded: it ends once no byte
	// has come for outputQuiet (a loaded machine may take longer than
	// that to drain what the process wrote last, but not without
	// progress), and at outputLimit whatever comes.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !waitOutput(done, &copied, outputQuiet, outputLimit) {
		for _, st := range streams {
			if f, ok := st.r.(*os.File); ok && f != nil {
				f.Close()
			}
		}
		<-done
	}
	return code, nil
}

// How long the monitor waits for a container's last output after its
// process exited: until none has come for outputQuiet, at most
// outputLimit.
const (
	outputQuiet = 2 * time.Second
	outputLimit = 30 * time.Second
)

// waitOutput waits until done is closed (it returns true), or until the
// count in copied has not moved for quiet or limit has passed (false).
func waitOutput(done <-chan struct{}, copied *atomic.Int64, quiet, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTimer(quiet)
	defer tick.Stop()
	last := copied.Load()
	for {
		select {
		case <-done:
			return true
		case <-deadline.C:
			return false
		case <-tick.C:
			n := copied.Load()
			if n == last {
				return false
			}
			last = n
			tick.Reset(quiet)
		}
	}
}

// countingReader adds what it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// VolumeUnmounts writes Docker's volume unmount event for each of the
// volumes the container id mounted, once it has ended.
func VolumeUnmounts(j *events.Journal, id string, volumes []string) {
	for _, v := range volumes {
		j.Emit(events.Volume, "unmount", v, map[string]string{"driver": "local", "container": id})
	}
}

// event writes a container event to the user's journal, with extra
// attributes as KEY, VALUE pairs.
func (req Request) event(action string, extra ...string) {
	a := maps.Clone(req.EventAttrs)
	if a == nil {
		a = map[string]string{}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	if n := currentName(req.RunDir); n != "" {
		a["name"] = n
	}
	events.Open(req.Events).Emit(events.Container, action, req.ID, a)
}
