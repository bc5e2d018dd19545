package container

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeProc builds a /proc tree: each process has ns/pid (a symlink, as
// the kernel's), stat, status and cmdline.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T, selfNS string) *fakeProc {
	p := &fakeProc{t: t, root: t.TempDir()}
	mustDo(t, os.WriteFile(filepath.Join(p.root, "stat"), []byte("cpu  1 2 3\nbtime 1700000000\n"), 0o644))
	mustDo(t, os.MkdirAll(filepath.Join(p.root, "self", "ns"), 0o755))
	mustDo(t, os.Symlink(selfNS, filepath.Join(p.root, "self", "ns", "pid")))
	return p
}

// add makes process pid in namespace ns; start and cpu are in clock ticks.
func (p *fakeProc) add(pid, ppid int, ns, comm, cmdline string, uid int, tty, start, cpu int) {
	dir := filepath.Join(p.root, fmt.Sprint(pid))
	mustDo(p.t, os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
	if ns != "" {
		mustDo(p.t, os.Symlink(ns, filepath.Join(dir, "ns", "pid")))
	}
	stat := fmt.Sprintf("%d (%s) S %d 1 1 %d -1 0 0 0 0 0 %d %d 0 0 20 0 1 0 %d 0 0\n", pid, comm, ppid, tty, cpu/2, cpu-cpu/2, start)
	mustDo(p.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	status := fmt.Sprintf("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n", comm, uid, uid, uid, uid)
	mustDo(p.t, os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644))
	mustDo(p.t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644))
}

func TestListProcessesByNamespace(t *testing.T) {
	p := newFakeProc(t, "pid:[4026531836]")
	const ctr = "pid:[4026532999]"
	p.add(1, 0, "pid:[4026531836]", "init", "/sbin/init\x00", 0, 0, 1, 0)
	p.add(500, 1, "pid:[4026531836]", "lodger", "lodger\x00_lodger-monitor\x00", 1000, 0, 100, 0)
	p.add(501, 500, ctr, "sleep", "sleep\x00100\x00", 0, 136<<8|3, 200, 50)
	p.add(502, 501, ctr, "weird) name", "", 33, 0, 300, 0)
	p.add(503, 500, "", "other", "other\x00", 0, 0, 300, 0) // ns unreadable
	p.add(504, 1, "pid:[4026532000]", "sleep", "sleep\x00100\x00", 0, 0, 300, 0)
	now := time.Unix(1700000000+12, 0) // 10 s after 501 started
	got, err := listProcesses(p.root, 501, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []Process{
		{UID: 0, PID: 501, PPID: 500, CPU: 5, Start: time.Unix(1700000002, 0), TTY: "pts/3", Time: 500 * time.Millisecond, Cmd: "sleep 100"},
		{UID: 33, PID: 502, PPID: 501, Start: time.Unix(1700000003, 0), TTY: "?", Cmd: "[weird) name]"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("processes (-want +got):\n%s", diff)
	}
	if _, err := listProcesses(p.root, 999, now); err == nil {
		t.Error("a missing pid listed")
	}
}

// With --pid=host the container shares the namespace of everything else:
// its processes are the container process and its descendants.
func TestListProcessesHostPidNamespace(t *testing.T) {
	const host = "pid:[4026531836]"
	p := newFakeProc(t, host)
	p.add(1, 0, host, "init", "/sbin/init\x00", 0, 0, 1, 0)
	p.add(20, 1, host, "sh", "sh\x00", 0, 0, 10, 0)
	p.add(21, 20, host, "sleep", "sleep\x001\x00", 0, 0, 10, 0)
	p.add(22, 21, host, "sleep", "sleep\x002\x00", 0, 0, 10, 0)
	p.add(23, 1, host, "cron", "cron\x00", 0, 0, 10, 0)
	got, err := listProcesses(p.root, 20, time.Unix(1700000100, 0))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, pr := range got {
		pids = append(pids, pr.PID)
	}
	if diff := cmp.Diff([]int{20, 21, 22}, pids); diff != "" {
		t.Errorf("pids (-want +got):\n%s", diff)
	}
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[int64]string{0: "?", 136 << 8: "pts/0", 137<<8 | 5: "pts/261", 4<<8 | 1: "tty1", 4<<8 | 65: "ttyS1", 5 << 8: "?"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}
