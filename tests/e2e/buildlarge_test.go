//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBuildLargeContext: a context of 10,000 small files and 1 GiB of
// data goes through COPY, from a directory and as a tar on stdin, without
// lodger holding it in memory: the build's peak resident set (its own and
// its waited-for children's, from wait4) stays far below the context.
func TestBuildLargeContext(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := t.TempDir()
	// Four 256 MiB files of pseudo-random bytes (ChaCha8: incompressible,
	// and written at disk speed), and 10,000 small files in 100
	// directories.
	rng := rand.NewChaCha8([32]byte{1, 6})
	buf := make([]byte, 1<<20)
	var bigTotal int64
	for i := range 4 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("big%d.bin", i)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for range 256 {
			_, _ = rng.Read(buf)
			if _, err := w.Write(buf); err != nil {
				t.Fatal(err)
			}
			bigTotal += int64(len(buf))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 100 {
		sub := filepath.Join(dir, "small", fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			_, _ = rng.Read(buf[:512])
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", i)), buf[:512+(i%7)*100], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const files = 4 + 100*100
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+busybox+`
COPY . /ctx
RUN find /ctx -type f ! -name Dockerfile | wc -l && du -sm /ctx | cut -f1 && md5sum /ctx/big3.bin | cut -c1-32
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := exec.Command("md5sum", filepath.Join(dir, "big3.bin"))
	md5, err := sum.Output()
	if err != nil {
		t.Fatal(err)
	}

	// build runs one build, stdin from tar when set, and returns what the
	// RUN printed and the build's peak RSS in MiB.
	build := func(name string, fromTar bool) (string, int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		args := []string{"build", "--no-cache", "--progress", "plain", "-t", name, dir}
		var tarCmd *exec.Cmd
		if fromTar {
			args[len(args)-1] = "-"
		}
		cmd := e.command(ctx, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if fromTar {
			tarCmd = exec.CommandContext(ctx, "tar", "-C", dir, "-cf", "-", ".")
			pipe, err := tarCmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdin = pipe
			if err := tarCmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		err := cmd.Run()
		if tarCmd != nil {
			if werr := tarCmd.Wait(); werr != nil && err == nil {
				err = fmt.Errorf("tar: %w", werr)
			}
		}
		if err != nil {
			t.Fatalf("lodger %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024 // KiB to MiB
		t.Logf("build %s (tar on stdin: %v): %s, peak RSS %d MiB", name, fromTar, time.Since(start).Round(time.Second), rss)
		var out []string
		for _, v := range buildSteps(t, stderr.String()) {
			if strings.HasPrefix(v.name, "[3/3] RUN") {
				for _, l := range v.lines {
					_, text, _ := strings.Cut(l, " ")
					out = append(out, text)
				}
			}
		}
		return strings.Join(out, "\n"), rss
	}
	wantSum := strings.Fields(string(md5))[0]
	for _, fromTar := range []bool{false, true} {
		name := "large:dir"
		if fromTar {
			name = "large:tar"
		}
		out, rss := build(name, fromTar)
		// du's figure counts the small files' blocks too: about 40 MiB
		// for 10,000 files of 4 KiB blocks, so compare the count and
		// the checksum exactly and du within 64 MiB.
		got := strings.Split(out, "\n")
		if len(got) != 3 || got[0] != fmt.Sprint(files) || got[2] != wantSum {
			t.Errorf("%s: the RUN saw %q, want %d files and big3.bin's md5 %s", name, got, files, wantSum)
		} else {
			var mb int64
			fmt.Sscan(got[1], &mb)
			if mb < bigTotal>>20 || mb > bigTotal>>20+64 {
				t.Errorf("%s: du says %d MiB, want about %d", name, mb, bigTotal>>20)
			}
		}
		// Far below the context's size: a quarter of it.
		if rss > 256 {
			t.Errorf("%s: the build's peak RSS was %d MiB for a context of %d MiB: it holds the context in memory", name, rss, bigTotal>>20)
		}
	}
	// What is no archive on stdin is read as a Dockerfile, so bounded:
	// 20 MiB of it is refused, not held.
	huge := strings.NewReader("FROM " + busybox + "\n" + strings.Repeat("# a comment line of a Dockerfile\n", 20<<20/33))
	wantBuildError(t, call{env: e, stdin: huge}.run(t, "build", "-"), "not a Dockerfile either")
	noBuildLeftovers(t, e)
}
