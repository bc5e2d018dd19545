package main

import (
	"bufio"
	"bytes"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"
)

// initsOnlyEnv makes the test binary exit as its main starts: a child run
// so has run every package initialiser that lodger runs, and nothing else.
const initsOnlyEnv = "LODGER_TEST_INITS_ONLY"

func TestMain(m *testing.M) {
	if os.Getenv(initsOnlyEnv) == "1" {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// maxInitBytes and maxInitAllocs bound what one of lodger's own packages
// may allocate in its initialisers. Every command pays them, `lodger
// version` as much as `lodger run`: a pattern, a table or a map a command
// may not need is made at its first use (sync.OnceValue), not at start.
// The largest today are small maps of names: container's (2 KiB in 12
// allocations), and this package's tables of flags and column headers
// (5.5 KiB in 30, 6.8 KiB in 40 in lodger-transfer), which get twice the
// room. One compiled regexp alone makes some 40 allocations.
const (
	maxInitBytes  = 8 << 10
	maxInitAllocs = 36
)

// TestInitsStayCheap: the initialisers of lodger's packages, which every
// lodger process runs before main, allocate little (GODEBUG=inittrace).
// The test binary links the packages lodger links.
func TestInitsStayCheap(t *testing.T) {
	cmd := osexec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), initsOnlyEnv+"=1", "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		pkg := f[1]
		if pkg != "github.com/lodger-containers/lodger" && !strings.HasPrefix(pkg, "github.com/lodger-containers/lodger/") {
			continue
		}
		seen++
		b, err1 := strconv.Atoi(f[7])
		n, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("inittrace line %q: want its bytes and allocations", sc.Text())
		}
		maxBytes, maxAllocs := maxInitBytes, maxInitAllocs
		if pkg == "github.com/lodger-containers/lodger/cmd/lodger" {
			maxBytes, maxAllocs = 2*maxBytes, 2*maxAllocs
		}
		if b > maxBytes || n > maxAllocs {
			t.Errorf("%s allocates %d bytes in %d allocations as every lodger process starts, want at most %d in %d: make what it makes at first use (sync.OnceValue)", pkg, b, n, maxBytes, maxAllocs)
		}
	}
	if seen == 0 {
		t.Fatalf("no initialiser of lodger's packages in the inittrace:\n%s", stderr.String())
	}
}
