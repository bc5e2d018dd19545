//go:build linux && cgo

package prefault

import (
	"bufio"
	"fmt"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// The test binary links this package, so its constructor and init ran
// in it as in lodger; a child of it shows what they did or did not do.
const childEnv = "PREFAULT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		code, heap, err := residency()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(code, heap)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// residency returns, in KiB, how much of this program's read-only file
// mappings (code, read-only data) is not resident, and how much of the
// heap after its first allocation, as far as init populates it.
func residency() (binary, heap int, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	hp := uintptr(unsafe.Pointer(first))
	if first == nil {
		hp = uintptr(unsafe.Pointer(new([16]byte)))
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var inBinary bool
	var heapEnd uintptr
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, _ := strconv.ParseUint(lo, 16, 64)
			h, _ := strconv.ParseUint(hi, 16, 64)
			inBinary = len(fields) >= 6 && fields[5] == self && !strings.Contains(fields[1], "w")
			if uintptr(l) <= hp && hp < uintptr(h) {
				heapEnd = uintptr(h)
			}
			continue
		}
		if !inBinary || len(fields) < 2 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "Size:":
			binary += n
		case "Rss:":
			binary -= n
		}
	}
	if err := s.Err(); err != nil {
		return 0, 0, err
	}
	// Bit 63 of a page's pagemap entry: present in memory.
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, 0, err
	}
	defer pm.Close()
	// init populates heapAhead from the 64 KiB block of the first
	// allocation, or to the end of the mapping when that comes first.
	if end := hp&^(step-1) + heapAhead; heapEnd > end {
		heapEnd = end
	}
	page := uintptr(os.Getpagesize())
	entries := make([]byte, 8*((heapEnd-hp&^(page-1))/page))
	if _, err := pm.ReadAt(entries, int64(hp/page*8)); err != nil {
		return 0, 0, err
	}
	for i := 0; i < len(entries); i += 8 {
		if entries[i+7]&0x80 == 0 {
			heap += int(page / 1024)
		}
	}
	return binary, heap, nil
}

// child starts this test binary as a process of its own, with argv[1]
// and the environment given, and reads what residency saw there.
func child(t *testing.T, arg string, env ...string) (code, heap int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(self, arg)
	cmd.Env = append(os.Environ(), append(env, childEnv+"=1")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if _, err := fmt.Sscan(string(out), &code, &heap); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return code, heap
}

// A process that starts through the constructor has its whole binary
// resident before it runs (on demand only the pages it touched would be)
// and the first megabytes of its heap; one told not to, or passing through on
// its way to exec (the container init), has neither.
func TestPopulates(t *testing.T) {
	onBinary, onHeap := child(t, "-test.run=none")
	offBinary, offHeap := child(t, "-test.run=none", "LODGER_PREFAULT=0")
	initBinary, initHeap := child(t, "_lodger-init")
	t.Logf("KiB not resident, of the binary's read-only pages / of the heap after its first allocation: populated %d/%d, LODGER_PREFAULT=0 %d/%d, _lodger-init %d/%d",
		onBinary, onHeap, offBinary, offHeap, initBinary, initHeap)
	if onBinary != 0 || onHeap != 0 {
		t.Errorf("not resident after start: %d KiB of the binary's read-only pages, %d KiB of the heap; want none", onBinary, onHeap)
	}
	// Either alone could find its heap's end close after its allocation.
	if offHeap == 0 && initHeap == 0 {
		t.Errorf("heap not resident with LODGER_PREFAULT=0: %d KiB, as _lodger-init: %d KiB; want the pages nobody touched left alone", offHeap, initHeap)
	}
}
