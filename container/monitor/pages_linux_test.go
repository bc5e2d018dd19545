package monitor

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// binaryRss sums the resident kB of this process's read-only mappings of
// its own binary, from /proc/self/smaps.
func binaryRss(t *testing.T) int {
	t.Helper()
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && strings.Contains(fields[0], "-") {
			ino, _ := strconv.ParseUint(fields[4], 10, 64)
			ours = ino == exe.Ino && fields[1][1] == '-'
			continue
		}
		if ours && len(fields) >= 2 && fields[0] == "Rss:" {
			kb, _ := strconv.Atoi(fields[1])
			total += kb
		}
	}
	return total
}

// TestDropStartPages: what the start mapped of the binary's read-only
// segments goes, but for the pages the code after it touches again, and
// the process goes on running (the pages fault back in).
func TestDropStartPages(t *testing.T) {
	before := binaryRss(t)
	dropStartPages()
	after := binaryRss(t)
	if before < 1024 || after > before/2 {
		t.Errorf("binary's read-only pages resident: %d kB before, %d kB after dropStartPages; want well under half after", before, after)
	}
	// The code runs on: the dropped pages come back as they are used.
	if got := strconv.Itoa(42) + strings.Repeat("x", 2); got != "42xx" {
		t.Errorf("after dropping: %q", got)
	}
	t.Logf("binary's read-only pages resident: %d kB before, %d kB after", before, after)
}
