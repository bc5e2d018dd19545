package monitor

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropStartPages unmaps from this process the pages of its own binary's
// read-only segments (code, read-only data) that its start touched. A
// monitor then idles for as long as its container runs, and what it
// keeps mapped is what an idle container costs: the kernel maps a
// binary 64 KiB around each page fault, so the start left most of the
// binary mapped (7.6 of its 8.7 MB), of which the idle monitor uses a
// small part. The pages stay in the page cache, shared and reclaimable,
// and fault back in when the monitor uses them again (its log copying,
// a stop, the container's exit). Only clean, read-only private
// mappings of the binary itself are dropped: a writable one would lose
// its data. Errors are ignored: this only saves memory.
func dropStartPages() {
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	type span struct{ start, end uintptr }
	var spans []span
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		perms := fields[1]
		if len(perms) < 4 || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		if ino, err := strconv.ParseUint(fields[4], 10, 64); err != nil || ino != exe.Ino {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		spans = append(spans, span{uintptr(start), uintptr(end)})
	}
	for _, s := range spans {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED)
	}
}
