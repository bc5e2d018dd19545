//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostMarker is a host directory holding one file, secret, that lodger
// must never write beside nor read through a container's symlinks.
func hostMarker(t *testing.T, e *env) string {
	t.Helper()
	dir := filepath.Join(e.dir, "marker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("hostsecret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func wantMarkerUntouched(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "secret" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host marker directory %s holds %v, want only secret", dir, names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "secret")); string(b) != "hostsecret\n" {
		t.Errorf("host secret changed: %q", b)
	}
}

// wantNoSecret fails t if any file below dir holds the host secret.
func wantNoSecret(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("hostsecret")) {
				t.Errorf("%s holds the host's secret: cp read it through a container symlink", p)
			}
		}
		return nil
	})
}

func writeHostFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// Modes as written, whatever the umask.
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(os.Chmod(p, 0o644), os.Chmod(filepath.Dir(p), 0o755)); err != nil {
		t.Fatal(err)
	}
}

func readHostFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCp(t *testing.T) {
	e := isolatedEnv(t)
	marker := hostMarker(t, e)
	host := filepath.Join(e.dir, "cp")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "box", busybox, "sleep", "1000"), 0)
	setup := `mkdir -p /data/sub && echo inside > /data/file && chmod 0640 /data/file && touch -d '2001-02-03 04:05:06' /data/file &&
echo deep > /data/sub/deep && ln -s / /data/toroot && ln -s ../../../../../../../.. /data/up && ln -s ` + marker + ` /data/hostlink &&
ln -s /data/file /data/filelink && echo owned > /data/owned && chown 1000:1000 /data/owned`
	wantOK(t, e.lodger(t, "exec", "box", "sh", "-c", setup))
	catIn := func(t *testing.T, p string) string {
		t.Helper()
		r := e.lodger(t, "exec", "box", "cat", p)
		wantCode(t, r, 0)
		return r.stdout
	}

	t.Run("file out of a running container", func(t *testing.T) {
		out := filepath.Join(host, "out.txt")
		wantOK(t, e.lodger(t, "cp", "box:/data/file", out))
		if got := readHostFile(t, out); got != "inside\n" {
			t.Errorf("copied %q", got)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 || fi.ModTime().UTC().Format(time.DateTime) != "2001-02-03 04:05:06" {
			t.Errorf("mode %v, mtime %v: want 0640 and the container file's time", fi.Mode(), fi.ModTime().UTC())
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
			t.Errorf("copied file belongs to uid %d, want the user's %d", uid, os.Getuid())
		}
	})
	t.Run("directory out", func(t *testing.T) {
		out := filepath.Join(host, "datacopy")
		wantOK(t, e.lodger(t, "cp", "box:/data", out))
		if got := readHostFile(t, out+"/sub/deep"); got != "deep\n" {
			t.Errorf("copied %q", got)
		}
		if target, err := os.Readlink(out + "/toroot"); err != nil || target != "/" {
			t.Errorf("symlink copied as %q, %v; want the link itself", target, err)
		}
		// Into an existing directory: under its own name.
		wantOK(t, e.lodger(t, "cp", "box:/data/sub", out+"/sub"))
		if got := readHostFile(t, out+"/sub/sub/deep"); got != "deep\n" {
			t.Errorf("copied into an existing directory: %q", got)
		}
	})
	t.Run("-a keeps the container's owner", func(t *testing.T) {
		plain, kept := filepath.Join(host, "owned-plain"), filepath.Join(host, "owned-kept")
		wantOK(t, e.lodger(t, "cp", "box:/data/owned", plain))
		wantOK(t, e.lodger(t, "cp", "-a", "box:/data/owned", kept))
		p, _ := os.Stat(plain)
		k, _ := os.Stat(kept)
		if p == nil || k == nil {
			t.Fatal("copies missing")
		}
		if uid := p.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
			t.Errorf("without -a: uid %d, want %d", uid, os.Getuid())
		}
		if uid := k.Sys().(*syscall.Stat_t).Uid; int(uid) == os.Getuid() {
			t.Errorf("with -a: uid %d, want the host uid of container uid 1000", uid)
		}
		_, _ = e.inSession("rm", "-f", kept)
	})
	t.Run("file and directory in", func(t *testing.T) {
		writeHostFile(t, host+"/in/a.txt", "from host\n")
		writeHostFile(t, host+"/in/nested/b.txt", "nested\n")
		wantOK(t, e.lodger(t, "cp", host+"/in/a.txt", "box:/data/a.txt"))
		if got := catIn(t, "/data/a.txt"); got != "from host\n" {
			t.Errorf("copied %q", got)
		}
		wantOK(t, e.lodger(t, "cp", host+"/in", "box:/data/"))
		if got := catIn(t, "/data/in/nested/b.txt"); got != "nested\n" {
			t.Errorf("copied %q", got)
		}
		wantOK(t, e.lodger(t, "cp", host+"/in/.", "box:/data/sub"))
		if got := catIn(t, "/data/sub/a.txt"); got != "from host\n" {
			t.Errorf("contents copied into /data/sub: %q", got)
		}
		// Relative to the container's root, and owned by its root.
		wantOK(t, e.lodger(t, "cp", host+"/in/a.txt", "box:data/rel.txt"))
		r := e.lodger(t, "exec", "box", "stat", "-c", "%u:%g %a", "/data/rel.txt", "/data/in/nested")
		wantStdout(t, r, "0:0 644\n0:0 755\n")
	})
	t.Run("tar on stdout and stdin", func(t *testing.T) {
		r := e.lodger(t, "cp", "box:/data/sub", "-")
		wantCode(t, r, 0)
		names := map[string]string{}
		tr := tar.NewReader(strings.NewReader(r.stdout))
		for {
			h, err := tr.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				break
			}
			b, _ := io.ReadAll(tr)
			names[h.Name] = string(b)
		}
		if names["sub/deep"] != "deep\n" || names["sub/"] != "" {
			t.Errorf("tar entries %v, want sub/ and sub/deep", names)
		}
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		_ = tw.WriteHeader(&tar.Header{Name: "fromtar/x", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3})
		_, _ = tw.Write([]byte("tar"))
		_ = tw.Close()
		wantOK(t, call{env: e, stdin: &b}.run(t, "cp", "-", "box:/data"))
		if got := catIn(t, "/data/fromtar/x"); got != "tar" {
			t.Errorf("unpacked %q", got)
		}
		// An archive that climbs out is refused.
		b.Reset()
		tw = tar.NewWriter(&b)
		_ = tw.WriteHeader(&tar.Header{Name: "../../../../../../.." + marker + "/evil", Typeflag: tar.TypeReg, Mode: 0o600})
		_ = tw.Close()
		wantError(t, call{env: e, stdin: &b}.run(t, "cp", "-", "box:/data"), 1, "leaves the destination")
	})
	t.Run("symlinks resolve inside the container", func(t *testing.T) {
		out := filepath.Join(host, "passwd")
		wantOK(t, e.lodger(t, "cp", "box:/data/toroot/etc/passwd", out))
		if got := readHostFile(t, out); got != catIn(t, "/etc/passwd") {
			t.Errorf("copied %q, want the container's /etc/passwd", got)
		}
		for _, src := range []string{"box:/data/up" + marker + "/secret", "box:/data/hostlink/secret", "box:/data/toroot" + marker + "/secret"} {
			r := e.lodger(t, "cp", src, filepath.Join(host, "leak"))
			wantError(t, r, 1, "no such file or directory")
		}
		writeHostFile(t, host+"/payload", "payload\n")
		for _, dst := range []string{"box:/data/hostlink/", "box:/data/hostlink/new", "box:/data/up" + marker + "/", "box:/data/up" + marker + "/x", "box:/data/toroot" + marker} {
			r := e.lodger(t, "cp", host+"/payload", dst)
			if r.code == 0 && r.stderr != "" {
				t.Errorf("%s\nsucceeded with a message", r)
			}
		}
		// -L follows the link, still inside the container.
		wantOK(t, e.lodger(t, "cp", "-L", "box:/data/filelink", filepath.Join(host, "followed")))
		if got := readHostFile(t, filepath.Join(host, "followed")); got != "inside\n" {
			t.Errorf("-L copied %q", got)
		}
		wantError(t, e.lodger(t, "cp", "-L", "box:/data/hostlink", filepath.Join(host, "leak")), 1, "no such file or directory")
		wantNoSecret(t, host)
		wantMarkerUntouched(t, marker)
	})
	t.Run("errors", func(t *testing.T) {
		wantError(t, e.lodger(t, "cp", "box:/nosuch", host+"/x"), 1, "box:/nosuch", "no such file or directory")
		wantError(t, e.lodger(t, "cp", host+"/nosuch", "box:/data/"), 1, host+"/nosuch")
		wantError(t, e.lodger(t, "cp", "nosuchctr:/etc/passwd", host+"/x"), 1, "nosuchctr")
		wantError(t, e.lodger(t, "cp", host+"/a", host+"/b"), 1, "CONTAINER:PATH")
		wantError(t, e.lodger(t, "cp", "box:/a", "box:/b"), 1, "between containers")
		wantError(t, e.lodger(t, "cp", "box:/data", host+"/out.txt"), 1, "directory to a file")
		wantError(t, e.lodger(t, "cp", "box:/data/file", host+"/no/such/dir/x"), 1, "does not exist")
		wantError(t, e.lodger(t, "cp", "box:/data/file"), 1, "requires exactly 2")
	})
	t.Run("stopped container", func(t *testing.T) {
		wantCode(t, e.lodger(t, "stop", "-t", "0", "box"), 0)
		writeHostFile(t, host+"/stopped.txt", "while stopped\n")
		wantOK(t, e.lodger(t, "cp", host+"/stopped.txt", "box:/data/"))
		out := filepath.Join(host, "back.txt")
		wantOK(t, e.lodger(t, "cp", "box:/data/stopped.txt", out))
		if got := readHostFile(t, out); got != "while stopped\n" {
			t.Errorf("copied back %q", got)
		}
		// cp mounted the stopped container's rootfs and must unmount it.
		if m := layerMounts(t, e, e.info(t).Storage.GraphRoot); len(m) > 0 {
			t.Errorf("rootfs left mounted after cp on a stopped container: %v", m)
		}
		wantCode(t, e.lodger(t, "start", "box"), 0)
		if got := catIn(t, "/data/stopped.txt"); got != "while stopped\n" {
			t.Errorf("after start: %q", got)
		}
	})
	t.Run("into a created container", func(t *testing.T) {
		wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "fresh", busybox, "cat", "/greeting"), 0)
		writeHostFile(t, host+"/greeting", "hello before start\n")
		wantOK(t, e.lodger(t, "cp", host+"/greeting", "fresh:/"))
		r := e.lodger(t, "start", "-a", "fresh")
		wantStdout(t, r, "hello before start\n")
	})
	wantCode(t, e.lodger(t, "rm", "-f", "box", "fresh"), 0)
	wantNothingLeft(t, e)
}

// A container that keeps swapping a directory for symlinks to the host
// marker (absolute, and relative up to /) while cp runs must never make
// cp write to or read from the host. The race must have happened: the
// container flipped all along, some copies met the directory (and did
// their work) and some met a link (and failed).
func TestCpSymlinkRace(t *testing.T) {
	e := isolatedEnv(t)
	marker := hostMarker(t, e)
	host := filepath.Join(e.dir, "race")
	flip := `mkdir -p /data; n=0; while :; do
rm -rf /data/x; mkdir /data/x; echo inner > /data/x/f; echo inner > /data/x/secret
rm -rf /data/x; ln -s ` + marker + ` /data/x
rm -f /data/x; ln -s ../../../../../../../..` + marker + ` /data/x
n=$((n + 1)); echo $n >/data/.flips
done`
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "flipper", busybox, "sh", "-c", flip), 0)
	// The flipper rewrites .flips in place: a read between the truncation
	// and the write sees nothing, so read until a number.
	flips := func() int {
		for range 100 {
			r := e.lodger(t, "exec", "flipper", "cat", "/data/.flips")
			if n, err := strconv.Atoi(strings.TrimSpace(r.stdout)); r.code == 0 && err == nil {
				return n
			}
		}
		t.Fatal("no count of flips in the flipper's /data/.flips")
		return 0
	}
	eventually(t, "the flipper to flip", func() bool { return flips() > 10 })
	flipsBefore := flips()

	writeHostFile(t, host+"/payload", "payload\n")
	writeHostFile(t, host+"/dir/payload", "payload\n")
	if err := os.MkdirAll(host+"/out", 0o755); err != nil {
		t.Fatal(err)
	}
	// Successes and failures by direction.
	var in, out struct{ ok, failed int }
	msgs := map[string]int{}
	digits := regexp.MustCompile(`[0-9]+`)
	// inner counts copies out of the container that brought its file.
	inner := 0
	isInner := func(p string) bool {
		b, err := os.ReadFile(p)
		return err == nil && string(b) == "inner\n"
	}
	// At least 3 s, and on until each outcome has been seen (at most 60 s:
	// a loaded machine makes fewer copies a second).
	start := time.Now()
	more := func() bool {
		seen := in.ok > 0 && inner > 0 && in.failed+out.failed > 0
		return time.Since(start) < 3*time.Second || !seen && time.Since(start) < 60*time.Second
	}
	for i := 0; more(); i++ {
		n := strconv.Itoa(i)
		for _, args := range [][]string{
			{"cp", host + "/payload", "flipper:/data/x/"},
			{"cp", host + "/payload", "flipper:/data/x/p" + n},
			{"cp", host + "/dir", "flipper:/data/x/"},
			{"cp", "flipper:/data/x/secret", host + "/out/s" + n},
			{"cp", "flipper:/data/x", host + "/out/d" + n},
		} {
			tally := &in
			if strings.HasPrefix(args[1], "flipper:") {
				tally = &out
			}
			r := e.lodger(t, args...)
			if r.code == 0 {
				tally.ok++
				if dst := args[2]; tally == &out && (isInner(dst) || isInner(dst+"/secret")) {
					inner++
				}
			} else {
				tally.failed++
				msgs[digits.ReplaceAllString(strings.ReplaceAll(r.stderr, host, "HOST"), "N")]++
			}
			if r.code != 0 && r.code != 1 {
				t.Errorf("%s\nwant success or a plain failure", r)
			}
		}
	}
	flipped := flips() - flipsBefore
	t.Logf("%d flips in %s; into the container %d copies succeeded, %d failed; out of it %d succeeded, %d failed:", flipped, time.Since(start).Round(time.Millisecond), in.ok, in.failed, out.ok, out.failed)
	for m, n := range msgs {
		t.Logf("%4d× %s", n, strings.TrimSpace(m))
	}
	// What came out of the directory is the container's.
	came := map[string]int{}
	_ = filepath.WalkDir(host+"/out", func(p string, d os.DirEntry, err error) error {
		if err != nil || p == host+"/out" {
			return nil
		}
		what := d.Type().String()
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			what = fmt.Sprintf("file %q", b)
		}
		came[what]++
		return nil
	})
	t.Logf("out of the container came %v", came)
	// A round forks six busybox applets; on a busy machine it takes
	// about as long as a copy, each of which starts lodger anew.
	if flipped < 10 {
		t.Errorf("the flipper flipped only %d times during the copies: they raced against nothing", flipped)
	}
	if in.ok == 0 || out.ok == 0 || inner == 0 {
		t.Errorf("copies into the container: %d succeeded; out of it: %d succeeded, %d files of the container's; want some of each: cp works when it meets the directory", in.ok, out.ok, inner)
	}
	if in.failed+out.failed == 0 {
		t.Errorf("no copy failed: none met a link, the race did not happen")
	}
	wantMarkerUntouched(t, marker)
	wantNoSecret(t, host)
	wantCode(t, e.lodger(t, "rm", "-f", "flipper"), 0)
	wantNothingLeft(t, e)
}

// topRow is one line of `lodger top`.
type topRow struct {
	uid, pid, ppid, cmd string
}

func topRows(t *testing.T, r result) []topRow {
	t.Helper()
	ls := lines(r.stdout)
	if len(ls) == 0 || !regexp.MustCompile(`^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$`).MatchString(ls[0]) {
		t.Fatalf("%s\nwant Docker's header", r)
	}
	var rows []topRow
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		if len(f) < 8 {
			t.Fatalf("%s\nshort row %q", r, l)
		}
		rows = append(rows, topRow{f[0], f[1], f[2], strings.Join(f[7:], " ")})
	}
	return rows
}

func TestTop(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "t", busybox, "sh", "-c", "sleep 1000 & exec sleep 1001"), 0)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "other", busybox, "sleep", "2000"), 0)
	pid := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.State.Pid}}", "t").stdout)
	var rows []topRow
	eventually(t, "both sleeps in top", func() bool {
		r := e.lodger(t, "top", "t")
		wantOK(t, r)
		rows = topRows(t, r)
		return len(rows) == 2
	})
	want := []topRow{{"0", pid, rows[0].ppid, "sleep 1001"}, {"0", rows[1].pid, pid, "sleep 1000"}}
	if !slices.Equal(rows, want) {
		t.Errorf("top t: %+v, want %+v (host pids, the child's parent the container process)", rows, want)
	}
	// ps options are ignored, with a note.
	r := e.lodger(t, "top", "t", "-ef")
	wantCode(t, r, 0)
	if len(topRows(t, r)) != 2 || !strings.Contains(r.stderr, "ignored") {
		t.Errorf("%s\nwant the same table and a note that ps options are ignored", r)
	}
	// --pid=host: the container process and its descendants only, not
	// the rest of the namespace it shares.
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--pid", "host", "--name", "hp", busybox, "sleep", "1003"), 0)
	r = e.lodger(t, "top", "hp")
	wantOK(t, r)
	if rows := topRows(t, r); len(rows) != 1 || rows[0].cmd != "sleep 1003" {
		t.Errorf("%s\nwant only the container's sleep", r)
	}
	wantCode(t, e.lodger(t, "stop", "-t", "0", "t"), 0)
	wantError(t, e.lodger(t, "top", "t"), 1, "is not running")
	wantError(t, e.lodger(t, "top", "nosuch"), 1, "nosuch")
	wantCode(t, e.lodger(t, "rm", "-f", "t", "other", "hp"), 0)
	wantNothingLeft(t, e)
}

func TestRename(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "a", busybox, "sleep", "1000"), 0)
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "b", busybox, "true"), 0)
	wantError(t, e.lodger(t, "rename", "a", "b"), 1, "name in use")
	wantError(t, e.lodger(t, "rename", "a", "a"), 1, "a")
	wantError(t, e.lodger(t, "rename", "a", "bad name"), 1, "invalid container name")
	wantError(t, e.lodger(t, "rename", "nosuch", "x"), 1, "nosuch")
	wantError(t, e.lodger(t, "rename", "a"), 1, "requires exactly 2")

	wantOK(t, e.lodger(t, "rename", "a", "c"))
	if _, ok := e.ps(t, "a"); ok {
		t.Error("ps still lists the old name")
	}
	if row, ok := e.ps(t, "c"); !ok || row.State != "running" {
		t.Errorf("ps after rename: %+v, want c running", row)
	}
	if r := e.lodger(t, "ps", "--format", "{{.Names}}"); r.stdout != "c\n" {
		t.Errorf("%s\nwant the new name in the table", r)
	}
	// The old name is free; the new one works everywhere.
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "a", busybox, "true"), 0)
	wantCode(t, e.lodger(t, "stop", "-t", "0", "c"), 0)
	wantError(t, e.lodger(t, "rename", "b", "c"), 1, "name in use")
	wantCode(t, e.lodger(t, "rm", "a", "b", "c"), 0)
	wantNothingLeft(t, e)
}

func TestContainerPrune(t *testing.T) {
	e := isolatedEnv(t)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "up", busybox, "sleep", "1000"), 0)
	made := strings.TrimSpace(e.lodger(t, "create", "-q", noTLS, "--name", "made", busybox, "true").stdout)
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "done", busybox, "true"), 0)
	done := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.ID}}", "done").stdout)

	// Without -f it asks; no answer keeps everything.
	r := e.lodger(t, "container", "prune")
	wantCode(t, r, 0)
	if len(e.containers(t)) != 3 || !strings.Contains(r.stderr, "Are you sure") {
		t.Errorf("%s\nwant a question and nothing removed", r)
	}
	r = e.lodger(t, "container", "prune", "-f")
	wantCode(t, r, 0)
	ls := lines(r.stdout)
	if len(ls) != 5 || ls[0] != "Deleted Containers:" || ls[3] != "" || !strings.HasPrefix(ls[4], "Total reclaimed space: ") {
		t.Fatalf("%s\nwant Docker's report", r)
	}
	got := []string{ls[1], ls[2]}
	slices.Sort(got)
	want := []string{made, done}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("removed %v, want the created and the exited container %v", got, want)
	}
	rows := e.containers(t)
	if len(rows) != 1 || rows[0].Name != "up" {
		t.Errorf("left %+v, want only the running container", rows)
	}
	// container ls is ps.
	wantStdout(t, e.lodger(t, "container", "ls", "--format", "{{.Names}}"), "up\n")
	r = e.lodger(t, "container", "prune", "-f")
	wantStdout(t, r, "Total reclaimed space: 0B\n")
	wantCode(t, e.lodger(t, "container", "rm", "-f", "up"), 0)
	wantNothingLeft(t, e)
}

func TestPsFlags(t *testing.T) {
	e := isolatedEnv(t)
	config := ref("config:latest")
	e.pull(t, config, noTLS)
	// Oldest to newest: c1 exited, c2 running, c3 created, cfg created.
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "c1", "--label", "tier=front", busybox, "true"), 0)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "c2", "--label", "tier=back", "--label", "team=a", busybox, "sleep", "1000"), 0)
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "c3", busybox, "true"), 0)
	wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", "cfg", "--entrypoint", "true", config), 0)
	var infos []struct {
		ID    string `json:"Id"`
		Image string `json:"Image"`
	}
	r := e.lodger(t, "inspect", "c1")
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	c1ID, imageID := infos[0].ID, strings.TrimPrefix(infos[0].Image, "sha256:")

	names := func(args ...string) string {
		t.Helper()
		r := e.lodger(t, append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)
		wantCode(t, r, 0)
		return strings.Join(lines(r.stdout), " ")
	}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "c2"},
		{[]string{"-a"}, "cfg c3 c2 c1"},
		{[]string{"-n", "2"}, "cfg c3"},
		{[]string{"-n", "3"}, "cfg c3 c2"},
		{[]string{"-l"}, "cfg"},
		{[]string{"--filter", "name=c1"}, ""}, // exited: needs -a
		{[]string{"-a", "--filter", "name=c1"}, "c1"},
		{[]string{"-a", "--filter", "name=^c"}, "cfg c3 c2 c1"},
		{[]string{"-a", "-f", "name=c1", "-f", "name=c3"}, "c3 c1"},
		{[]string{"--filter", "status=exited"}, "c1"},
		{[]string{"--filter", "status=exited", "--filter", "status=created"}, "cfg c3 c1"},
		{[]string{"-a", "--filter", "label=tier"}, "c2 c1"},
		{[]string{"-a", "--filter", "label=tier=front"}, "c1"},
		{[]string{"-a", "--filter", "label=tier", "--filter", "label=team=a"}, "c2"},
		{[]string{"-a", "--filter", "label=tier", "--filter", "status=running"}, "c2"},
		{[]string{"-a", "--filter", "id=" + c1ID[:10]}, "c1"},
		{[]string{"-a", "--filter", "ancestor=" + busybox}, "c3 c2 c1"},
		{[]string{"-a", "--filter", "ancestor=" + imageID[:12]}, "c3 c2 c1"},
		{[]string{"-a", "--filter", "ancestor=" + config}, "cfg"},
		{[]string{"-a", "--filter", "ancestor=" + busybox, "--filter", "ancestor=" + config}, "cfg c3 c2 c1"},
		{[]string{"-n", "1", "--filter", "label=tier"}, "c2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := names(tt.args...); got != tt.want {
				t.Errorf("ps %s: %q, want %q", shellQuote(tt.args), got, tt.want)
			}
		})
	}
	t.Run("ids", func(t *testing.T) {
		short := lines(e.lodger(t, "ps", "-a", "-q").stdout)
		full := lines(e.lodger(t, "ps", "-a", "-q", "--no-trunc").stdout)
		if len(short) != 4 || len(full) != 4 || short[3] != c1ID[:12] || full[3] != c1ID {
			t.Errorf("-q: %v; --no-trunc -q: %v; want 12 and 64 hex digits, c1 last", short, full)
		}
		r := e.lodger(t, "ps", "-a", "--no-trunc")
		if !strings.Contains(r.stdout, c1ID) {
			t.Errorf("%s\nwant full IDs in the table", r)
		}
	})
	t.Run("formats", func(t *testing.T) {
		r := e.lodger(t, "ps", "-a", "--format", `table {{.Names}}\t{{.State}}\t{{.Label "tier"}}`)
		wantCode(t, r, 0)
		ls := lines(r.stdout)
		if len(ls) != 5 || !regexp.MustCompile(`^NAMES\s+STATE\s+LABEL$`).MatchString(ls[0]) ||
			!regexp.MustCompile(`^c2\s+running\s+back$`).MatchString(ls[3]) {
			t.Errorf("%s\nwant a header and aligned columns", r)
		}
		// Docker's words for how long c2 has run: a fast machine gets
		// here within its first second.
		r = e.lodger(t, "ps", "-a", "--filter", "name=c2", "--format", "{{.ID}} {{.Labels}} {{.Status}} {{.CreatedAt}}")
		if !regexp.MustCompile(`^[0-9a-f]{12} team=a,tier=back Up (\d+ \w+|Less than a second|About an? \w+) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+\n$`).MatchString(r.stdout) {
			t.Errorf("%s\nwant ID, labels, status and creation time", r)
		}
		r = e.lodger(t, "ps", "-a", "--filter", "name=c1", "--format", "{{json .}}")
		var m map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m["Names"] != "c1" || m["State"] != "exited" {
			t.Errorf("%s\nwant a JSON object per container: %v", r, err)
		}
		if rows := e.containers(t); len(rows) != 4 {
			t.Errorf("--format json: %d rows, want the array of 4", len(rows))
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantError(t, e.lodger(t, "ps", "--filter", "bogus=1"), 1, "bogus")
		wantError(t, e.lodger(t, "ps", "--filter", "status=sleeping"), 1, "status")
		wantError(t, e.lodger(t, "ps", "--filter", "name"), 1, "KEY=VALUE")
		wantError(t, e.lodger(t, "ps", "--format", "{{.Nosuch}}", "-a"), 1, `template: :1:2: executing "" at <.Nosuch>: can't evaluate field Nosuch in type`)
		wantError(t, e.lodger(t, "ps", "--format", "{{.ID"), 1, "template parsing error")
	})
	wantCode(t, e.lodger(t, "rm", "-f", "c1", "c2", "c3", "cfg"), 0)
	wantNothingLeft(t, e)
}
