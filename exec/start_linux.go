package exec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/rootless"
)

// Docker's exit codes for what goes wrong before the container's own code
// runs.
const (
	ExitLodger     = 125 // lodger's own error
	ExitCannotExec = 126 // the command exists but cannot be executed
	ExitNotFound   = 127 // the command does not exist
)

// ExitError is a failure with the exit code the CLI must return.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Stdio is what the container process gets as fds 0, 1 and 2 when it has
// no terminal. A nil In is /dev/null.
type Stdio struct {
	In       *os.File
	Out, Err *os.File
}

// Process is a started container process.
type Process struct {
	cmd     *osexec.Cmd
	console *os.File
	// release lets go of the thread the init was forked from, once the
	// init has been reaped (startLocked).
	release func()
}

var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// Hooks tie a starting container to its network.
type Hooks struct {
	// Prestart runs once the container's namespaces exist and before its
	// init does anything in them (the network gets its interface there).
	Prestart func(pid int) error
	// Connect, when set and the container has a network namespace of its
	// own, has the init hand the container's connect(2) calls to a
	// seccomp listener and receives that listener, non-blocking, owning
	// it from then on, before the container's command runs. Unless it
	// is served, the container's connect fails with ENOSYS. Processes
	// started in a running container (exec) do not get one.
	Connect func(listener *os.File)
	// Trap names the calls the listener receives; connect alone when
	// empty (accept and accept4 for netstack's accept bypass).
	Trap []string
}

// Start runs the spec's process and returns once it has been exec'd, or
// with an *ExitError saying why it could not be (126, 127 or 125).
func Start(spec *specs.Spec, stdio Stdio, hooks Hooks) (*Process, error) {
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, &ExitError{ExitLodger, errors.New("no command given and the image has none")}
	}
	trapConnect := hooks.Connect != nil && len(joined(spec)) == 0 && hasNamespace(spec, specs.NetworkNamespace)
	var trap []string
	if trapConnect {
		trap = hooks.Trap
		if len(trap) == 0 {
			trap = []string{"connect"}
		}
	}
	// The init makes its mounts while the prestart hook runs, and waits
	// for it before anything that could see the network (compileWith);
	// one that joins a running container's namespaces has no mounts to
	// make and gets the hook first, as before.
	wait := hooks.Prestart != nil && len(joined(spec)) == 0
	prog, err := compileWith(spec, trap, wait)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, &ExitError{ExitLodger, err}
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer specR.Close()
	defer specW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncR.Close()
	defer syncW.Close()

	bin, err := initBinary()
	if err != nil {
		return nil, &ExitError{ExitLodger, err}
	}
	cmd := osexec.Command(bin, InitArg)
	cmd.Args[0] = "lodger-init"
	cmd.Env = []string{rootless.NoJoinEnv()}
	// A nil *os.File in an io.Reader is not nil: set only what is there,
	// so that os/exec gives /dev/null for the rest.
	if stdio.In != nil {
		cmd.Stdin = stdio.In
	}
	if stdio.Out != nil {
		cmd.Stdout = stdio.Out
	}
	if stdio.Err != nil {
		cmd.Stderr = stdio.Err
	}
	cmd.ExtraFiles = []*os.File{specR, syncW}
	// fd 5 is always lodger's, so that the init can close everything
	// above it without asking what came from lodger's caller: a unix
	// socket when the init sends descriptors back (a pty master, the
	// connect listener) or waits for the go-ahead, else /dev/null.
	var sock *os.File
	if spec.Process.Terminal || trapConnect || wait {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("init socket: %w", err)
		}
		sock = os.NewFile(uintptr(fds[0]), "init-socket")
		sockChild := os.NewFile(uintptr(fds[1]), "init-socket-child")
		defer sock.Close()
		defer sockChild.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, sockChild)
	} else {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		defer devnull.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, devnull)
	}
	var flags uintptr
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Path == "" {
				flags |= cloneFlags[ns.Type]
			}
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if flags&unix.CLONE_NEWUSER != 0 {
		// A container user namespace nested in the session (--userns):
		// the session's root writes the maps before the init runs.
		cmd.SysProcAttr.UidMappings = idMaps(spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(spec.Linux.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become the namespace's root before exec: the init needs its
		// capabilities there, and execve keeps them only for uid 0.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	release, err := startLocked(cmd)
	if err != nil {
		return nil, &ExitError{ExitLodger, fmt.Errorf("start container init: %w", err)}
	}
	specR.Close()
	syncW.Close()
	p := &Process{cmd: cmd, release: release}
	if a := spec.Process.OOMScoreAdj; a != nil {
		if err := setOOMScoreAdj(cmd.Process.Pid, *a); err != nil {
			return nil, p.fail(ExitLodger, err)
		}
	}
	if hooks.Prestart != nil && !wait {
		if err := hooks.Prestart(cmd.Process.Pid); err != nil {
			return nil, p.fail(ExitLodger, err)
		}
	}
	if _, err := specW.Write(prog); err != nil {
		return nil, p.failFromSync(syncR, fmt.Errorf("send init program: %w", err))
	}
	specW.Close()
	if sock != nil {
		// Only the init holds the other end now: a failing init ends
		// the wait below.
		cmd.ExtraFiles[2].Close()
	}
	if wait {
		// The init makes its mounts meanwhile. Should the hook fail, an
		// init that failed first (its message is on the sync pipe once
		// it is gone) says what went wrong better than the hook, which
		// found it gone.
		if err := hooks.Prestart(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			return nil, p.failFromSync(syncR, err)
		}
		if _, err := sock.Write([]byte{'g'}); err != nil {
			return nil, p.failFromSync(syncR, fmt.Errorf("start container init: %w", err))
		}
	}
	// In the init's order: the listener (before capabilities and the
	// user's profile), then the pty master.
	if trapConnect {
		listener, err := recvFD(sock, 'c')
		if err != nil {
			return nil, p.failFromSync(syncR, fmt.Errorf("receive connect listener: %w", err))
		}
		hooks.Connect(listener)
	}
	if spec.Process.Terminal {
		master, err := recvFD(sock, 'p')
		if err != nil {
			return nil, p.failFromSync(syncR, fmt.Errorf("receive pty: %w", err))
		}
		p.console = master
	}
	msg, err := io.ReadAll(io.LimitReader(syncR, 64<<10))
	if err != nil {
		return nil, p.fail(ExitLodger, fmt.Errorf("read init status: %w", err))
	}
	if len(msg) > 0 {
		return nil, p.failFromSync(bytes.NewReader(msg), nil)
	}
	return p, nil
}

// setOOMScoreAdj gives the init, and so everything it starts, its OOM
// score adjustment before it runs anything of the container's. The
// write is the user's own: the kernel lets it raise the score, but not
// lower it below what the user's processes had without CAP_SYS_RESOURCE
// in the host's namespace, which no rootless runtime holds.
func setOOMScoreAdj(pid, adj int) error {
	f, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(strconv.Itoa(adj))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, os.ErrPermission) {
		own, _ := os.ReadFile("/proc/self/oom_score_adj")
		o := strings.TrimSpace(string(own))
		return fmt.Errorf("oom score adjustment %d: lowering it below yours (%s) needs CAP_SYS_RESOURCE on the host, which rootless lodger has not: use %s or more", adj, o, o)
	}
	if err != nil {
		return fmt.Errorf("set oom score adjustment %d: %w", adj, err)
	}
	return nil
}

// failFromSync reads the init's "CODE MESSAGE" report.
func (p *Process) failFromSync(r io.Reader, fallback error) error {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if c, msg, ok := strings.Cut(string(b), " "); ok {
		if code, err := strconv.Atoi(c); err == nil && code != 0 {
			return p.fail(code, errors.New(msg))
		}
	}
	if fallback == nil {
		fallback = errors.New("container init failed without a message")
	}
	return p.fail(ExitLodger, fallback)
}

// fail reaps the init and returns the error to report.
func (p *Process) fail(code int, err error) error {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.release()
	if p.console != nil {
		p.console.Close()
	}
	return &ExitError{code, err}
}

// Pid is the container process's pid as the session sees it.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Console is the pty master of a process started with a terminal, else nil.
func (p *Process) Console() *os.File { return p.console }

// Signal sends sig to the container process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process and returns its exit code: its own status, or
// 128+N when signal N killed it.
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	p.release()
	if p.cmd.ProcessState == nil {
		return ExitLodger, err
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return ExitLodger, err
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// startLocked starts cmd from an OS thread locked to a goroutine that
// waits, holding it, until release is called (after the child is
// reaped). The init's parent-death signal (Pdeathsig) fires when the
// thread that forked it ends, not the process: a thread that joins a
// container's network namespace cannot come back to the host's (it is
// the initial user namespace's) and is ended when its goroutine returns
// (netstack's inNetns, the user networks' attach). Had the init been
// forked from a thread that later served such a call, it was killed
// (seen with user networks, about half of the first starts).
func startLocked(cmd *osexec.Cmd) (release func(), err error) {
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-done
		}
		runtime.UnlockOSThread()
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }, nil
}
