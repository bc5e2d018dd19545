package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
)

const specFile = "config.json"

func saveSpec(dir string, spec *specs.Spec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, specFile), b, 0o600); err != nil {
		return fmt.Errorf("save container spec: %w", err)
	}
	return nil
}

// loadSpec reads the spec create saved for a container.
func loadSpec(store cstorage.Store, id string) (*specs.Spec, error) {
	dir, err := store.ContainerDirectory(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return nil, fmt.Errorf("read the container's spec: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("read the container's spec: %w", err)
	}
	return &spec, nil
}

// ExecOptions are what `lodger exec` takes.
type ExecOptions struct {
	Args        []string
	Env         []string
	User        string
	Workdir     string
	Interactive bool
	TTY         bool
	Detach      bool
	Privileged  bool
	Signals     <-chan os.Signal
	Resize      <-chan [2]uint16 // rows, columns of the terminal
	Stdin       *os.File
	Stdout      *os.File
	Stderr      *os.File
}

// Exec runs a command inside a running container and returns its exit
// code, with run's rules: 125 lodger's error, 126, 127, 128+N.
func Exec(ctx context.Context, store cstorage.Store, ref string, o ExecOptions) (int, error) {
	if len(o.Args) == 0 {
		return exec.ExitLodger, errors.New("no command given")
	}
	in, err := Get(store, ref)
	if err != nil {
		return exec.ExitLodger, err
	}
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return exec.ExitLodger, fmt.Errorf("container %s is not running", in.Name)
	}
	if in.State.Paused {
		// As Docker: a process started in a paused container would run
		// while the others are stopped.
		return exec.ExitLodger, fmt.Errorf("exec in %s: %w: unpause it first", in.Name, ErrPaused)
	}
	if o.Detach && (o.TTY || o.Interactive) {
		return exec.ExitLodger, errors.New("-d with -i or -t needs attach, which lodger does not have yet")
	}
	spec, err := loadSpec(store, in.ID)
	if err != nil {
		return exec.ExitLodger, err
	}
	rootfs := spec.Root.Path

	proc := *spec.Process
	proc.Args = o.Args
	proc.Terminal = o.TTY
	if proc.Env, err = Env(proc.Env, nil, o.Env); err != nil {
		return exec.ExitLodger, err
	}
	if o.User != "" {
		u, err := exec.ResolveUser(rootfs, o.User)
		if err != nil {
			return exec.ExitLodger, err
		}
		proc.User = u.User
	}
	if o.Workdir != "" {
		if proc.Cwd, err = Workdir(imgspecv1.ImageConfig{}, o.Workdir); err != nil {
			return exec.ExitLodger, fmt.Errorf("-w: %w", err)
		}
	}
	if o.TTY && !hasEnv(proc.Env, "TERM") {
		proc.Env = append(proc.Env, "TERM=xterm")
	}
	if o.Privileged {
		all := exec.AllCapabilities()
		proc.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
		spec.Linux.Seccomp = nil
	}
	spec.Process = &proc
	spec.Annotations = nil
	pid := strconv.Itoa(in.State.Pid)
	namespaces := []specs.LinuxNamespace{}
	for _, ns := range spec.Linux.Namespaces {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: ns.Type, Path: "/proc/" + pid + "/ns/" + nsFile[ns.Type]})
	}
	spec.Linux.Namespaces = namespaces

	ro := RunOptions{Interactive: o.Interactive, TTY: o.TTY, Signals: o.Signals, Resize: o.Resize, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}
	// Docker's exec events: the command as "ENTRYPOINT ARGS" in the
	// action, an exec ID of the exec's own in the attributes.
	execID := newID()
	command := o.Args[0] + " " + strings.Join(o.Args[1:], " ")
	in.emit("exec_create: "+command, "execID", execID)
	in.emit("exec_start: "+command, "execID", execID)
	// As Docker's exec: the process is held by the container's cgroups.
	var hooks exec.Hooks
	if g := in.State.Cgroup; g != nil {
		hooks.Prestart = g.Add
	}
	if o.Detach {
		p, err := exec.Start(spec, exec.Stdio{}, hooks)
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				in.emit("exec_die", "execID", execID, "exitCode", strconv.Itoa(ee.Code))
				return ee.Code, err
			}
			return exec.ExitLodger, err
		}
		// The command lives on in the container when lodger exits; its
		// helper, the parent that waits for it, goes with lodger.
		_ = p
		return 0, nil
	}
	code, err := runProcess(spec, ro, nil, hooks, nil)
	in.emit("exec_die", "execID", execID, "exitCode", strconv.Itoa(code))
	return code, err
}

// nsFile names a namespace type's file under /proc/PID/ns.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup",
}

// HasTerminal reports whether the container was created with -t.
func HasTerminal(store cstorage.Store, id string) (bool, error) {
	spec, err := loadSpec(store, id)
	if err != nil {
		return false, err
	}
	return spec.Process != nil && spec.Process.Terminal, nil
}
