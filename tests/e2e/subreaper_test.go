//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// subreaperEnv makes the test binary, re-executed, the subreaper of one
// lodger command: it runs the command, then adopts every process the
// command left behind when it exited (PR_SET_CHILD_SUBREAPER), notes the
// argv[0] of each while it is alive, reaps them all, and prints a
// subreaperReport as JSON. A test sees that way what lodger started and
// left to finish after it, and that it finished.
const subreaperEnv = "LODGER_E2E_SUBREAPER"

type subreaperReport struct {
	Code int `json:"code"`
	// Orphans is how many processes the command left behind, all reaped.
	Orphans int `json:"orphans"`
	// Names are the argv[0] of those seen alive after the command ended.
	Names []string `json:"names"`
	// Reaped are their names (comm, 15 bytes) as they were reaped.
	Reaped []string `json:"reaped"`
	// Left is what was still running 5 s after the command ended.
	Left  []string `json:"left"`
	Error string   `json:"error,omitempty"`
}

// subreaperMain is the re-executed binary's whole life.
func subreaperMain(args []string) int {
	var rep subreaperReport
	err := subreap(args, &rep)
	if err != nil {
		rep.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	if err != nil {
		return 1
	}
	return 0
}

func subreap(args []string, rep *subreaperReport) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a subreaper: %w", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	lodgerPid := cmd.Process.Pid
	// Reaping with wait4(-1) here would race os/exec's wait for the
	// command, so the command is waited for by its pid first.
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(lodgerPid, &ws, 0, nil); err != nil {
		return fmt.Errorf("wait for lodger: %w", err)
	}
	rep.Code = ws.ExitStatus()
	seen := map[int]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, pid := range childrenOf(os.Getpid()) {
			if !seen[pid] {
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(b) > 0 {
					seen[pid] = true
					rep.Names = append(rep.Names, strings.SplitN(string(b), "\x00", 2)[0])
				}
			}
		}
		// A zombie still shows its name (comm) in /proc/PID/stat: look
		// before reaping it.
		var si unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return nil
		case err != nil:
			return fmt.Errorf("reap: %w", err)
		}
		if pid := siginfoPid(&si); pid > 0 {
			rep.Reaped = append(rep.Reaped, commOf(pid))
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
				return fmt.Errorf("reap %d: %w", pid, err)
			}
			rep.Orphans++
			continue
		}
		if time.Now().After(deadline) {
			for _, pid := range childrenOf(os.Getpid()) {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				rep.Left = append(rep.Left, strings.ReplaceAll(string(b), "\x00", " "))
			}
			return nil
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// The fields after the command name, which may hold anything.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if n, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// underSubreaper runs lodger args in e under a subreaper and returns its
// report.
func (e *env) underSubreaper(t *testing.T, args ...string) subreaperReport {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{lodgerBin}, args...)...)
	cmd.Env = append(append([]string(nil), e.vars...), subreaperEnv+"=1")
	cmd.Dir = e.home
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var rep subreaperReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil || err != nil || rep.Error != "" {
		t.Fatalf("lodger %s under a subreaper: %v %v %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), err, jerr, rep.Error, out, stderr.String())
	}
	return rep
}

// siginfoPid is si_pid of a waitid result (0: no child has exited).
func siginfoPid(si *unix.Siginfo) int {
	// si_signo, si_errno, si_code, then the union, 8-aligned on 64-bit
	// machines, which starts with si_pid.
	b := (*[20]byte)(unsafe.Pointer(si))
	return int(*(*int32)(unsafe.Pointer(&b[16])))
}

// commOf is the name in /proc/PID/stat.
func commOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return "?"
	}
	return s[i+1 : j]
}
