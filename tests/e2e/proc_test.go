//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one line of the host's process table.
type proc struct {
	pid, ppid int
	comm      string
}

// procTable reads /proc/*/stat of every process the test user can see.
func procTable() map[int]proc {
	ents, _ := os.ReadDir("/proc")
	out := map[int]proc{}
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		out[pid] = proc{pid: pid, ppid: ppid, comm: s[open+1 : close]}
	}
	return out
}

// findDescendant returns the pid of a process named comm below ancestor.
func findDescendant(ancestor int, comm string) (int, bool) {
	table := procTable()
	for pid, p := range table {
		if p.comm != comm {
			continue
		}
		for cur, hops := p.ppid, 0; cur > 1 && hops < 64; hops++ {
			if cur == ancestor {
				return pid, true
			}
			cur = table[cur].ppid
		}
	}
	return 0, false
}

// killTree SIGKILLs pid and everything below it, the container's processes
// included, which would outlive a killed lodger. A pid that already exited
// and was reaped is gone from the table, so nothing else is hit.
func killTree(pid int) {
	table := procTable()
	if _, ok := table[pid]; !ok {
		return
	}
	for p := range table {
		for cur, hops := p, 0; cur > 1 && hops < 64; hops++ {
			if cur == pid {
				_ = syscall.Kill(p, syscall.SIGKILL)
				break
			}
			cur = table[cur].ppid
		}
	}
}

// waitDescendant polls for findDescendant until timeout.
func waitDescendant(ancestor int, comm string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		if pid, ok := findDescendant(ancestor, comm); ok {
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no process %q below pid %d after %s", comm, ancestor, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openPTY returns a new pseudo-terminal pair. (creack/pty is not among
// the module's dependencies; these are the three ioctls it makes.)
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// ptyReader reads a terminal's master side as readPTY does, in the
// background, so that a test can wait for what the terminal shows.
type ptyReader struct {
	mu   sync.Mutex
	out  []byte
	done chan struct{}
}

func newPTYReader(master *os.File) *ptyReader {
	r := &ptyReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			r.mu.Lock()
			r.out = append(r.out, buf[:n]...)
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

// String is what the terminal showed so far.
func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.out)
}

// wait returns all the terminal showed once every slave is closed.
func (r *ptyReader) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(callTimeout):
		t.Fatal("the terminal stayed open after lodger exited")
	}
	return r.String()
}

// readPTY reads the master side until every slave is closed, which Linux
// reports as EIO rather than EOF.
func readPTY(master *os.File) string {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, syscall.EIO) || errors.Is(err, io.EOF) || err != nil {
			return string(out)
		}
	}
}
