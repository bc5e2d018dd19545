package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/monitor"
)

// Errors Pause and Unpause return, for callers that branch.
var (
	ErrPaused    = errors.New("container is paused")
	ErrNotPaused = errors.New("container is not paused")
)

// pauseSettle bounds how long Pause waits for every process to stop (one
// in uninterruptible sleep stops only when it wakes).
const pauseSettle = 5 * time.Second

// Pause stops every process of a running container until Unpause. Where
// a writable cgroup freezer is delegated it freezes a cgroup of the
// container's own; otherwise (the common rootless case: nothing delegated)
// it sends SIGSTOP to every process of the container's pid namespace,
// again and again until a pass finds no process it has not stopped, so a
// fork racing the pass is caught by the next one. A stopped process cannot
// fork, so the set only shrinks once all are stopped. The signal way
// differs from the freezer in what a process can see: a parent waiting
// with WUNTRACED learns its child stopped, and Unpause resumes a process
// the container had stopped itself.
func Pause(store cstorage.Store, ref string) error {
	in, dir, err := runningFor(store, ref, "pause")
	if err != nil {
		return err
	}
	if in.State.Paused {
		return fmt.Errorf("pause %s: %w", in.Name, ErrPaused)
	}
	cg := cgroups.Detect()
	frozen := ""
	if cg.Freezer != "" {
		frozen = freezerDir(cg, in)
		err = freeze(cg, in)
	} else {
		err = stopAll(in.State.Pid)
	}
	if err != nil {
		if frozen != "" {
			_ = thaw(frozen, cg.FreezerV2)
		}
		_ = continueAll(in.State.Pid)
		return fmt.Errorf("pause %s: %w", in.Name, err)
	}
	if err := monitor.MarkPaused(dir, in.State.Pid, frozen); err != nil {
		return err
	}
	in.emit("pause")
	return nil
}

// Unpause resumes a container Pause stopped.
func Unpause(store cstorage.Store, ref string) error {
	in, dir, err := runningFor(store, ref, "unpause")
	if err != nil {
		return err
	}
	if !in.State.Paused {
		return fmt.Errorf("unpause %s: %w", in.Name, ErrNotPaused)
	}
	if err := resume(in); err != nil {
		return fmt.Errorf("unpause %s: %w", in.Name, err)
	}
	if err := monitor.ClearPaused(dir); err != nil {
		return err
	}
	in.emit("unpause")
	return nil
}

// resume thaws or continues every process of in, whichever way it was
// paused; stop, kill and rm -f call it after their signal so that the
// signal is acted on.
func resume(in Info) error {
	if dir := in.State.PausedFreezer; dir != "" {
		v2, _ := cgroups.IsV2(dir)
		if err := thaw(dir, v2); err != nil {
			return err
		}
	}
	return continueAll(in.State.Pid)
}

func runningFor(store cstorage.Store, ref, verb string) (Info, string, error) {
	in, err := Get(store, ref)
	if err != nil {
		return in, "", err
	}
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return in, "", fmt.Errorf("%s %s: %w", verb, in.Name, ErrNotRunning)
	}
	dir, err := store.ContainerRunDirectory(in.ID)
	if err != nil {
		return in, "", fmt.Errorf("%s %s: %w", verb, in.Name, err)
	}
	return in, dir, nil
}

// stopAll sends SIGSTOP to every process of pid's namespace until all of
// them are stopped and no new one appeared.
func stopAll(pid int) error {
	deadline := time.Now().Add(pauseSettle)
	sent := map[int]bool{}
	for {
		pids, err := namespacePids(pid)
		if err != nil {
			return err
		}
		fresh, running := 0, 0
		for _, p := range pids {
			if !sent[p] {
				if err := syscall.Kill(p, syscall.SIGSTOP); err != nil && !errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("stop process %d: %w", p, err)
				}
				sent[p] = true
				fresh++
				continue
			}
			if st := procState(p); st != 'T' && st != 't' && st != 'Z' && st != 0 {
				running++
			}
		}
		if fresh == 0 && running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes did not stop within %s", running+fresh, pauseSettle)
		}
		time.Sleep(time.Millisecond)
	}
}

// continueAll sends SIGCONT to every process of pid's namespace.
func continueAll(pid int) error {
	pids, err := namespacePids(pid)
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("continue process %d: %w", p, err)
		}
	}
	return nil
}

// namespacePids lists the processes of the container whose process is
// pid: its pid namespace, or with --pid=host its descendants.
func namespacePids(pid int) ([]int, error) {
	ps, err := listProcesses("/proc", pid, time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out, nil
}

// procState is the state letter of /proc/PID/stat, or 0 when the process
// is gone.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// freezerDir is the cgroup made for in's processes under the delegated one.
func freezerDir(cg cgroups.Report, in Info) string {
	return filepath.Join(cg.Freezer, "lodger-"+in.ID)
}

// freeze moves every process of in into a cgroup of its own under the
// delegated freezer, repeating until none is left outside (a fork that
// raced a move is in the old cgroup), then freezes it.
func freeze(cg cgroups.Report, in Info) error {
	dir := freezerDir(cg, in)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make freezer cgroup: %w", err)
	}
	if err := moveAll(in.State.Pid, dir); err != nil {
		return err
	}
	file, value, done := "freezer.state", "FROZEN", "FROZEN"
	if cg.FreezerV2 {
		file, value, done = "cgroup.freeze", "1", "frozen 1"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	check := filepath.Join(dir, file)
	if cg.FreezerV2 {
		check = filepath.Join(dir, "cgroup.events")
	}
	deadline := time.Now().Add(pauseSettle)
	for {
		b, _ := os.ReadFile(check)
		if strings.Contains(string(b), done) {
			// A process forked while the cgroup froze is in it already;
			// one forked before its parent moved is caught here.
			return moveAll(in.State.Pid, dir)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("freeze: not frozen within %s", pauseSettle)
		}
		time.Sleep(time.Millisecond)
	}
}

func moveAll(pid int, dir string) error {
	deadline := time.Now().Add(pauseSettle)
	for {
		pids, err := namespacePids(pid)
		if err != nil {
			return err
		}
		moved := 0
		for _, p := range pids {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cgroup")
			if strings.Contains(string(b), "/"+filepath.Base(dir)+"\n") {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(p)), 0); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("move process %d to freezer cgroup: %w", p, err)
			}
			moved++
		}
		if moved == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("move processes to freezer cgroup: still forking after %s", pauseSettle)
		}
	}
}

// thaw undoes freeze on the cgroup dir (a v2 one when v2): its processes
// are moved back to its parent while still frozen, which thaws each as it
// moves (the freezer's rule for a task leaving a frozen cgroup), and none
// left behind can fork into it; then it is thawed and removed.
func thaw(dir string, v2 bool) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(pauseSettle)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return fmt.Errorf("thaw: %w", err)
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.procs"), []byte(p), 0)
		}
		if time.Now().After(deadline) {
			break // thawed below all the same; the cgroup stays
		}
	}
	file, value := "freezer.state", "THAWED"
	if v2 {
		file, value = "cgroup.freeze", "0"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	_ = syscall.Rmdir(dir)
	return nil
}
