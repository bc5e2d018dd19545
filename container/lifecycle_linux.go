package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
)

// ErrNotRunning says a container has no process to signal.
var ErrNotRunning = errors.New("container is not running")

// Info is what lodger knows of a container: its record and its state.
type Info struct {
	ID       string        `json:"Id"`
	Name     string        `json:"Name"`
	ImageID  string        `json:"ImageID"`
	Metadata Metadata      `json:"Config"`
	State    monitor.State `json:"State"`
	LogPath  string        `json:"LogPath"`
}

// Get finds a container by ID, unique ID prefix or name.
func Get(store cstorage.Store, ref string) (Info, error) {
	c, err := store.Container(ref)
	if err != nil {
		return Info{}, fmt.Errorf("no such container %q: %w", ref, err)
	}
	return info(store, c), nil
}

// List returns every container lodger knows, with its state.
func List(store cstorage.Store) ([]Info, error) {
	cs, err := store.Containers()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(cs))
	for i := range cs {
		out = append(out, info(store, &cs[i]))
	}
	return out, nil
}

func info(store cstorage.Store, c *cstorage.Container) Info {
	in := Info{ID: c.ID, ImageID: c.ImageID}
	if len(c.Names) > 0 {
		in.Name = c.Names[0]
	}
	_ = json.Unmarshal([]byte(c.Metadata), &in.Metadata)
	if dir, err := store.ContainerRunDirectory(c.ID); err == nil {
		in.State = monitor.LoadState(dir)
	}
	in.LogPath, _ = logFile(store, c.ID)
	return in
}

// Signal sends sig to the container's process.
func Signal(in Info, sig syscall.Signal) error {
	if in.State.Status != monitor.StatusRunning || in.State.Pid <= 0 {
		return fmt.Errorf("signal %s: %w", in.Name, ErrNotRunning)
	}
	if err := syscall.Kill(in.State.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", in.Name, err)
	}
	// SIGKILL ends a paused container as Docker's does; resuming lets any
	// process outside its pid namespace (--pid=host) go too. The paused
	// mark dies with the process it names.
	if sig == syscall.SIGKILL && in.State.Paused {
		_ = resume(in)
	}
	return nil
}

// Wait waits until the container has exited and returns its state.
func Wait(ctx context.Context, store cstorage.Store, ref string) (monitor.State, error) {
	in, err := Get(store, ref)
	if err != nil {
		return monitor.State{}, err
	}
	id := in.ID
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if in.State.Status != monitor.StatusRunning {
			return in.State, nil
		}
		select {
		case <-ctx.Done():
			return in.State, ctx.Err()
		case <-tick.C:
		}
		if in, err = Get(store, id); err != nil {
			// Removed by its cleanup (--rm) while we waited, which
			// left the exit code behind.
			st := monitor.State{Status: monitor.StatusExited}
			if code, ok := keptExitCode(id); ok {
				st.ExitCode = &code
				return st, nil
			}
			return st, err
		}
	}
}

// Stop sends the container's stop signal (SIGTERM unless --stop-signal
// said otherwise), and SIGKILL when it has not exited after timeout.
func Stop(ctx context.Context, store cstorage.Store, ref string, timeout time.Duration) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if in.State.Status != monitor.StatusRunning {
		return nil
	}
	// The restart policy must not bring it back.
	if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
		_ = monitor.RequestStop(dir)
	}
	sig := syscall.SIGTERM
	if in.Metadata.StopSignal != "" {
		if s, err := ParseSignal(in.Metadata.StopSignal); err == nil {
			sig = s
		}
	}
	if err := Signal(in, sig); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	// A paused container acts on its stop signal once resumed.
	if in.State.Paused {
		if err := resume(in); err != nil {
			return fmt.Errorf("stop %s: %w", in.Name, err)
		}
		if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
			_ = monitor.ClearPaused(dir)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := Wait(wctx, store, in.ID); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	if err := Signal(in, syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	_, err = Wait(ctx, store, in.ID)
	if err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		return err
	}
	return nil
}

// Remove deletes a container that is not running; with force it kills a
// running one first.
func Remove(ctx context.Context, store cstorage.Store, ref string, force bool) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if in.State.Status == monitor.StatusRunning {
		if !force {
			return fmt.Errorf("container %s is running: stop it first or use -f", in.Name)
		}
		if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
			_ = monitor.RequestStop(dir)
		}
		if err := Signal(in, syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := Wait(wctx, store, in.ID); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
			return err
		}
	}
	_, _ = store.Unmount(in.ID, true)
	if err := store.DeleteContainer(in.ID); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		return fmt.Errorf("remove container %s: %w", in.Name, err)
	}
	return nil
}

// LogOptions select what Logs prints.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	Tail       int   // lines from the end; negative for all
	From       int64 // byte offset to start at, when Tail is negative
	Since      time.Time
	Until      time.Time
}

// Logs copies the container's log to stdout and stderr by stream. With
// Follow it keeps reading until the container has exited and the log is
// drained.
func Logs(ctx context.Context, store cstorage.Store, ref string, o LogOptions, stdout, stderr io.Writer) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	f, err := os.Open(in.LogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a foreground container logs nothing
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if o.Tail >= 0 {
		if err := seekTail(f, o.Tail); err != nil {
			return err
		}
	} else if o.From > 0 {
		if _, err := f.Seek(o.From, io.SeekStart); err != nil {
			return err
		}
	}
	// Lines rotated out by --log-opt max-size come first.
	if o.Tail < 0 && o.From == 0 {
		if old, err := os.Open(in.LogPath + ".1"); err == nil {
			sc := bufio.NewScanner(old)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				writeLogLine(sc.Text()+"\n", o, stdout, stderr)
			}
			old.Close()
		}
	}
	r := bufio.NewReader(f)
	var pending string
	for {
		line, err := r.ReadString('\n')
		if err == nil {
			writeLogLine(pending+line, o, stdout, stderr)
			pending = ""
			continue
		}
		pending += line
		if !errors.Is(err, io.EOF) {
			return err
		}
		if !o.Follow {
			return nil
		}
		in, gerr := Get(store, in.ID)
		if gerr != nil || in.State.Status != monitor.StatusRunning {
			// One more pass: the monitor writes the last lines before
			// it records the exit.
			rest, _ := io.ReadAll(r)
			for _, l := range strings.SplitAfter(pending+string(rest), "\n") {
				if strings.HasSuffix(l, "\n") {
					writeLogLine(l, o, stdout, stderr)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func writeLogLine(line string, o LogOptions, stdout, stderr io.Writer) {
	fields := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
	if len(fields) < 4 {
		return
	}
	ts, stream, tag, text := fields[0], fields[1], fields[2], fields[3]
	if !o.Since.IsZero() || !o.Until.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || (!o.Since.IsZero() && t.Before(o.Since)) || (!o.Until.IsZero() && t.After(o.Until)) {
			return
		}
	}
	w := stdout
	if stream == "stderr" {
		w = stderr
	}
	if o.Timestamps {
		fmt.Fprint(w, ts+" ")
	}
	fmt.Fprint(w, text)
	if tag == "F" {
		fmt.Fprint(w, "\n")
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return err
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	count := 0
	pos := size
	for pos > 0 {
		step := int64(chunk)
		if pos < step {
			step = pos
		}
		pos -= step
		if _, err := f.ReadAt(buf[:step], pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for i := step - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			count++
			if count == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}
