package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/internal/companion"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// Program is the file name of the monitor's executable, which lodger
// installs beside its own.
const Program = "lodger-monitor"

// ErrNotFound says that lodger found no monitor executable.
var ErrNotFound = errors.New(Program + " not found")

// Path finds the monitor's executable: beside the running program, in
// ../libexec/lodger from there, or in PATH; one that another user could
// have written or planted there is refused (companion.Check).
func Path() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	return find(filepath.Dir(self), osexec.LookPath)
}

func find(dir string, lookPath func(string) (string, error)) (string, error) {
	for _, p := range []string{filepath.Join(dir, Program), filepath.Join(dir, "..", "libexec", "lodger", Program)} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, companion.Check(p)
		}
	}
	if p, err := lookPath(Program); err == nil {
		return p, companion.Check(p)
	}
	return "", fmt.Errorf("%w in %s, %s or PATH: make install puts it beside lodger",
		ErrNotFound, dir, filepath.Join(dir, "..", "libexec", "lodger"))
}

// Start starts the monitor for a created and mounted container and returns
// once the container's process runs, or with the init's error as an
// *exec.ExitError. The listeners stay the caller's to close.
func Start(req Request, listeners []ports.Listener) error {
	bin, err := Path()
	if err != nil {
		return err
	}
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
	cmd := osexec.Command(bin, req.ID)
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
