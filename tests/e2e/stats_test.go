//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var statsColumns = regexp.MustCompile(`\s{2,}`)

// TestStats: stats --no-stream prints Docker's columns with the figures
// of the container's processes (from /proc here: nothing is delegated);
// --format takes Docker's field names; a streaming stats killed mid-stream
// leaves nothing behind (issue 13).
func TestStats(t *testing.T) {
	e := isolatedEnv(t)
	r := e.lodger(t, "info")
	if !strings.Contains(r.stdout, "stats from:    /proc") {
		t.Errorf("%s\nwant info to say stats reads /proc", r)
	}
	r = e.lodger(t, "run", "-d", "-q", noTLS, "--name", "s", ref("busybox:latest"),
		"sh", "-c", "sleep 1000 & sleep 1000 & while :; do :; done")
	wantCode(t, r, 0)
	id := strings.TrimSpace(r.stdout)
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "idle", ref("busybox:latest")), 0)
	// The shell has forked its two sleeps (top lists them), however long
	// a loaded machine takes; the busy loop has run meanwhile.
	var top result
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		top = e.lodger(t, "top", "s")
		sleeps := 0
		for _, row := range topRows(t, top) {
			if row.cmd == "sleep 1000" {
				sleeps++
			}
		}
		if sleeps == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s\nwant s's two sleeps listed within 60 s", top)
		}
	}
	time.Sleep(500 * time.Millisecond)

	r = e.lodger(t, "stats", "--no-stream", "s")
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%s\nwant a header and one row", r)
	}
	header := statsColumns.Split(strings.TrimSpace(lines[0]), -1)
	wantHeader := []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}
	if strings.Join(header, "|") != strings.Join(wantHeader, "|") {
		t.Errorf("header %q, want Docker's %q", header, wantHeader)
	}
	row := statsColumns.Split(strings.TrimSpace(lines[1]), -1)
	if len(row) != len(wantHeader) {
		t.Fatalf("row %q has %d columns, want %d", row, len(row), len(wantHeader))
	}
	if row[0] != id[:12] || row[1] != "s" {
		t.Errorf("row starts %q %q, want %q s", row[0], row[1], id[:12])
	}
	cpu, err := strconv.ParseFloat(strings.TrimSuffix(row[2], "%"), 64)
	// Two cores shared by many: a busy loop gets much less than 100%.
	if err != nil || cpu < 5 {
		t.Errorf("CPU %% %q, want a busy loop's share (at least 5%%)", row[2])
	}
	if !regexp.MustCompile(`^[0-9.]+(B|KiB|MiB) / [0-9.]+GiB$`).MatchString(row[3]) {
		t.Errorf("MEM USAGE / LIMIT %q, want Docker's binary units, the machine's memory as the limit", row[3])
	}
	if !regexp.MustCompile(`^[0-9.]+%$`).MatchString(row[4]) {
		t.Errorf("MEM %% %q", row[4])
	}
	ioCol := regexp.MustCompile(`^[0-9.]+(B|kB|MB|GB) / [0-9.]+(B|kB|MB|GB)$`)
	if !ioCol.MatchString(row[5]) || !ioCol.MatchString(row[6]) {
		t.Errorf("NET I/O %q, BLOCK I/O %q: want Docker's decimal units", row[5], row[6])
	}
	if row[7] != "3" {
		t.Errorf("PIDS %q, want 3 (the shell and two sleeps)", row[7])
	}

	r = e.lodger(t, "stats", "--no-stream", "--format", "{{.Container}}:{{.Name}}:{{.PIDs}}", "s")
	wantStdout(t, r, "s:s:3\n")
	r = e.lodger(t, "stats", "--no-stream", "--format", "json", "s")
	wantCode(t, r, 0)
	var j map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || j["Name"] != "s" || j["PIDs"] != "3" || j["MemUsage"] == "" {
		t.Errorf("%s\nwant one JSON object with Docker's keys (%v)", r, err)
	}
	r = e.lodger(t, "stats", "--no-stream", "--format", "{{.Nope}}", "s")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "Nope") {
		t.Errorf("%s\nwant the unknown field named", r)
	}
	// Default: running containers only; -a adds the created one, zeros.
	r = e.lodger(t, "stats", "--no-stream", "--format", "{{.Name}}")
	wantStdout(t, r, "s\n")
	r = e.lodger(t, "stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "idle 0.00% 0B / 0B 0\n") || !strings.Contains(r.stdout, "s ") {
		t.Errorf("%s\nwant both containers, the created one with zeros", r)
	}
	wantCode(t, e.lodger(t, "stats", "--no-stream", "nosuch"), 1)

	// A stream: the screen is cleared before each sample; killed, it
	// leaves no process and no lock: rm -f right after works.
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := e.command(ctx, "stats", "s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(stdout)
	var seen strings.Builder
	for strings.Count(seen.String(), "\033[2J\033[H") < 2 {
		line, err := br.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("stats stream ended: %v, printed %q", err, seen.String())
		}
	}
	if !strings.HasPrefix(seen.String(), "\033[2J\033[HCONTAINER ID") {
		t.Errorf("stream starts %q, want the screen cleared, then the header", seen.String()[:min(40, seen.Len())])
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("the killed stats (pid %d) is still there", pid)
	}
	// A lock the killed stats left held would hang rm -f until the
	// call's timeout fails the test; how long rm takes is the machine's.
	wantStdout(t, e.lodger(t, "rm", "-f", "s"), "s\n")
	for _, p := range pids() {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if strings.HasSuffix(string(b), "\x00stats\x00s\x00") {
			t.Errorf("process %d (%q) left by the killed stats", p, b)
		}
	}
}
