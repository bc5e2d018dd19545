//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountsImage is the imagegen image with symlinked mount destinations and
// owned content to populate volumes from.
func mountsImage() string { return ref("mounts:latest") }

// hostDir makes a directory on the host for a bind mount, below e's TMPDIR
// so that closing e removes it even once the U option gave it away to a
// subordinate id.
func hostDir(t *testing.T, e *env, name string) string {
	t.Helper()
	d := filepath.Join(e.tmp, "host-"+name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// volumeRow is the part of `volume inspect` and `volume ls --format json`
// the tests read.
type volumeRow struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	Labels     map[string]string `json:"Labels"`
	Anonymous  bool              `json:"Anonymous"`
}

func (e *env) volumes(t *testing.T) []string {
	t.Helper()
	r := e.lodger(t, "volume", "ls", "-q")
	wantCode(t, r, 0)
	return lines(r.stdout)
}

func parseVolumes(t *testing.T, r result) []volumeRow {
	t.Helper()
	var rows []volumeRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	return rows
}

// mountLine returns the /proc/mounts line of dst inside a container.
func mountLine(t *testing.T, r result, dst string) string {
	t.Helper()
	wantCode(t, r, 0)
	for _, l := range lines(r.stdout) {
		if f := strings.Fields(l); len(f) > 3 && f[1] == dst {
			return l
		}
	}
	t.Fatalf("%s\nno mount at %s", r, dst)
	return ""
}

func TestMountBind(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := hostDir(t, e, "bind")
	t.Run("rw", func(t *testing.T) {
		wantOK(t, e.runRm(t, "-v", dir+":/data", busybox, "sh", "-c", "echo from-container >/data/written"))
		if got := readFile(t, filepath.Join(dir, "written")); got != "from-container\n" {
			t.Errorf("host file = %q", got)
		}
		fi, err := os.Stat(filepath.Join(dir, "written"))
		if err != nil {
			t.Fatal(err)
		}
		// Root in the container is the user on the host.
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Errorf("file written by container root is owned by uid %d on the host, want %d", st.Uid, os.Getuid())
		}
		wantStdout(t, e.runRm(t, "--mount", "type=bind,src="+dir+",dst=/data", busybox, "cat", "/data/written"), "from-container\n")
	})
	t.Run("command in the mount", func(t *testing.T) {
		// A tool mounted in from the host runs, by path, and by name
		// through PATH when the file itself is mounted.
		tools := hostDir(t, e, "tools")
		script := filepath.Join(tools, "hello-from-host")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho mounted tool $1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		wantStdout(t, e.runRm(t, "-v", tools+":/opt/tools:ro", busybox, "/opt/tools/hello-from-host", "a"), "mounted tool a\n")
		wantStdout(t, e.runRm(t, "-v", script+":/usr/local/bin/hi:ro", busybox, "hi", "b"), "mounted tool b\n")
		r := e.runRm(t, "-v", tools+":/opt/tools:ro", busybox, "/opt/tools/nosuch")
		wantCode(t, r, 127)
	})
	t.Run("ro", func(t *testing.T) {
		for _, flag := range [][]string{
			{"-v", dir + ":/data:ro"},
			{"--mount", "type=bind,source=" + dir + ",target=/data,readonly"},
		} {
			r := e.runRm(t, append(flag, busybox, "sh", "-c", "cat /data/written; echo x >/data/refused")...)
			if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") || r.stdout != "from-container\n" {
				t.Errorf("%s\nwant the file readable and the write refused (read-only file system)", r)
			}
			if _, err := os.Stat(filepath.Join(dir, "refused")); err == nil {
				t.Errorf("%v: a write through a read-only bind reached the host", flag)
			}
		}
	})
	t.Run("file", func(t *testing.T) {
		f := filepath.Join(dir, "motd")
		if err := os.WriteFile(f, []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantStdout(t, e.runRm(t, "-v", f+":/etc/motd:ro", busybox, "cat", "/etc/motd"), "hello\n")
	})
	t.Run("nested", func(t *testing.T) {
		inner := hostDir(t, e, "inner")
		if err := os.WriteFile(filepath.Join(inner, "x"), []byte("inner\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantStdout(t, e.runRm(t, "-v", inner+":/data/sub/dir", "-v", dir+":/data", busybox, "cat", "/data/sub/dir/x", "/data/written"), "inner\nfrom-container\n")
	})
	t.Run("options", func(t *testing.T) {
		r := e.runRm(t, "-v", dir+":/data:nosuid,noexec,nodev,z", busybox, "cat", "/proc/mounts")
		l := mountLine(t, r, "/data")
		for _, o := range []string{"nosuid", "nodev", "noexec"} {
			if !strings.Contains(l, o) {
				t.Errorf("mount %q lacks %s", l, o)
			}
		}
	})
}

// TestMountSymlinkDestination mounts at destinations that go through
// symlinks of the image pointing at /, at .. and at the absolute /tmp: each
// must land inside the container's rootfs, and nothing may appear on the
// host beside it.
func TestMountSymlinkDestination(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, mountsImage(), noTLS)
	dir := hostDir(t, e, "symlink")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/tmp/lodger-volesc-tmp", "/lodger-volesc-root", "/lodger-volesc-up"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists before the test; remove it (as root) and rerun", p)
		}
	}
	r := e.runRm(t,
		"-v", dir+":/to-root/lodger-volesc-root",
		"-v", dir+":/to-dotdot/lodger-volesc-up",
		"--tmpfs", "/to-tmp/lodger-volesc-tmp",
		mountsImage(), "sh", "-c", "cat /lodger-volesc-root/f /lodger-volesc-up/f && grep -c ' /tmp/lodger-volesc-tmp tmpfs' /proc/mounts")
	wantStdout(t, r, "bound\nbound\n1\n")
	for _, p := range []string{"/tmp/lodger-volesc-tmp", "/lodger-volesc-root", "/lodger-volesc-up"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created on the host", p)
		}
	}
	// The rootfs went with --rm: any such name left in the suite's tree
	// was made outside it.
	out, err := e.inSession("find", scratch, "-xdev", "-name", "lodger-volesc*", "-print")
	if err != nil {
		t.Fatal(err)
	}
	if left := lines(string(out)); len(left) > 0 {
		t.Errorf("mount points made outside the rootfs: %v", left)
	}
	wantNothingLeft(t, e)
}

func TestVolumeNamed(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	graphRoot := e.info(t).Storage.GraphRoot
	t.Run("persists", func(t *testing.T) {
		wantOK(t, e.runRm(t, "-v", "keep:/data", busybox, "sh", "-c", "echo persisted >/data/f"))
		wantStdout(t, e.runRm(t, "--mount", "type=volume,src=keep,dst=/elsewhere", busybox, "cat", "/elsewhere/f"), "persisted\n")
		r := e.lodger(t, "volume", "inspect", "keep")
		wantCode(t, r, 0)
		rows := parseVolumes(t, r)
		if len(rows) != 1 || rows[0].Name != "keep" || rows[0].Driver != "local" || rows[0].Anonymous ||
			rows[0].Mountpoint != filepath.Join(graphRoot, "volumes", "keep", "_data") {
			t.Errorf("%s\nwant the local volume keep below the graph root", r)
		}
	})
	t.Run("populated from the image", func(t *testing.T) {
		r := e.runRm(t, "-v", "etc:/etc", busybox, "grep", "^alice:", "/etc/passwd")
		wantStdout(t, r, "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
		// The copy is the volume's now.
		wantStdout(t, e.runRm(t, "-v", "etc:/mnt", busybox, "grep", "-c", "^alice:", "/mnt/passwd"), "1\n")
	})
	t.Run("owners, modes and links kept", func(t *testing.T) {
		script := "cd /populated && stat -c '%n %u:%g %a %h' . file && readlink link && cat hard"
		want := ". 1000:1000 750 2\nfile 1000:1000 640 2\nfile\nfrom the image\n"
		// What the image itself holds, then the same in a new volume.
		wantStdout(t, e.runRm(t, mountsImage(), "sh", "-c", script), want)
		wantStdout(t, e.runRm(t, "-v", "pop:/populated", mountsImage(), "sh", "-c", script), want)
		// Seen through another path, it is the volume's content.
		wantStdout(t, e.runRm(t, "-v", "pop:/populated", busybox, "sh", "-c", script), want)
	})
	t.Run("nocopy", func(t *testing.T) {
		wantStdout(t, e.runRm(t, "--mount", "type=volume,src=bare,dst=/home,volume-nocopy", busybox, "ls", "-A", "/home"), "")
		wantStdout(t, e.runRm(t, "-v", "bare2:/home:nocopy", busybox, "ls", "-A", "/home"), "")
	})
	t.Run("U", func(t *testing.T) {
		wantStdout(t, e.runRm(t, "-u", "alice", "-v", "mine:/data:U", busybox, "sh", "-c", "touch /data/f && stat -c '%u:%g' /data /data/f"), "1000:1000\n1000:1000\n")
		dir := hostDir(t, e, "chown")
		wantStdout(t, e.runRm(t, "-u", "alice", "-v", dir+":/data:U", busybox, "sh", "-c", "touch /data/f && stat -c '%u' /data"), "1000\n")
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) == os.Getuid() {
			t.Errorf("U left %s owned by uid %d; want the subordinate id of the container's alice", dir, st.Uid)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		before := e.volumes(t)
		wantOK(t, e.runRm(t, "-v", "/anon", busybox, "sh", "-c", "echo x >/anon/f"))
		if diff := strings.Join(e.volumes(t), " "); diff != strings.Join(before, " ") {
			t.Errorf("volumes after run --rm -v /anon: %s, want %s: --rm removes anonymous volumes", diff, strings.Join(before, " "))
		}
		wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "anon-keeper", "-v", "/anon", "-v", "keep:/keep", busybox, "true"), 0)
		after := e.volumes(t)
		if len(after) != len(before)+1 {
			t.Fatalf("volumes %v after a run with an anonymous volume, want one more than %v", after, before)
		}
		wantStdout(t, e.lodger(t, "rm", "-v", "anon-keeper"), "anon-keeper\n")
		if got := e.volumes(t); strings.Join(got, " ") != strings.Join(before, " ") {
			t.Errorf("volumes after rm -v: %v, want %v (the named volume stays, the anonymous one goes)", got, before)
		}
		// Detached, the monitor removes them when the container ends.
		r := e.lodger(t, "run", "-d", "--rm", "-q", noTLS, "-v", "/anon", busybox, "true")
		wantCode(t, r, 0)
		deadline := time.Now().Add(60 * time.Second)
		for strings.Join(e.volumes(t), " ") != strings.Join(before, " ") {
			if time.Now().After(deadline) {
				t.Fatalf("volumes after run -d --rm -v /anon ended: %v, want %v", e.volumes(t), before)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	wantNothingLeft(t, e)
}

func TestVolumeCommands(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	t.Run("create", func(t *testing.T) {
		wantStdout(t, e.lodger(t, "volume", "create", "--label", "team=a", "--label", "x", "labelled"), "labelled\n")
		wantStdout(t, e.lodger(t, "volume", "create", "labelled"), "labelled\n")
		r := e.lodger(t, "volume", "create")
		wantCode(t, r, 0)
		if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.stdout) {
			t.Errorf("%s\nwant a random 64-hex name", r)
		}
		wantCode(t, e.lodger(t, "volume", "rm", strings.TrimSpace(r.stdout)), 0)
		for _, bad := range []string{"a", "bad/name", "_x", "../up"} {
			wantError(t, e.lodger(t, "volume", "create", bad), 1, "invalid volume name")
		}
		wantError(t, e.lodger(t, "volume", "create", "--driver", "nfs", "v2"), 1, "nfs")
	})
	t.Run("ls and inspect", func(t *testing.T) {
		wantCode(t, e.lodger(t, "volume", "create", "second"), 0)
		wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "labelled\nsecond\n")
		r := e.lodger(t, "volume", "ls")
		wantCode(t, r, 0)
		if ls := lines(r.stdout); len(ls) != 3 || !strings.HasPrefix(ls[0], "DRIVER") || !strings.Contains(ls[1], "local") {
			t.Errorf("%s\nwant a header and two rows", r)
		}
		r = e.lodger(t, "volume", "ls", "--format", "json")
		wantCode(t, r, 0)
		ls := jsonLines[map[string]string](t, r)
		if len(ls) != 2 || ls[0]["Name"] != "labelled" || ls[0]["Labels"] != "team=a,x=" || ls[0]["Driver"] != "local" || ls[0]["Scope"] != "local" {
			t.Errorf("ls --format json: %+v, want Docker's lines", ls)
		}
		r = e.lodger(t, "volume", "inspect", "labelled", "second")
		wantCode(t, r, 0)
		rows := parseVolumes(t, r)
		if len(rows) != 2 || rows[0].Labels["team"] != "a" || rows[0].Labels["x"] != "" || rows[1].Name != "second" {
			t.Errorf("%s\nwant labelled (team=a, x) and second", r)
		}
		r = e.lodger(t, "volume", "inspect", "second", "nope")
		wantError(t, r, 1, "nope", "no such volume")
		if rows := parseVolumes(t, r); len(rows) != 1 {
			t.Errorf("%s\nwant the volume found still shown", r)
		}
		wantError(t, e.lodger(t, "volume", "ls", "--format", "{{.Yaml}}"), 1, "can't evaluate field Yaml")
	})
	t.Run("rm refused while in use", func(t *testing.T) {
		wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "user1", "-v", "second:/data", busybox, "true"), 0)
		wantError(t, e.lodger(t, "volume", "rm", "second"), 1, "second", "in use")
		wantError(t, e.lodger(t, "volume", "rm", "-f", "second"), 1, "in use")
		r := e.lodger(t, "volume", "prune", "-f", "-a")
		wantCode(t, r, 0)
		if strings.Contains(r.stdout, "second") || !strings.Contains(r.stdout, "labelled") {
			t.Errorf("%s\nwant prune -a to remove labelled, unused, and keep second, in use", r)
		}
		wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "second\n")
		wantCode(t, e.lodger(t, "rm", "user1"), 0)
		wantStdout(t, e.lodger(t, "volume", "rm", "second"), "second\n")
		wantError(t, e.lodger(t, "volume", "rm", "second"), 1, "no such volume")
		wantCode(t, e.lodger(t, "volume", "rm", "-f", "second"), 0)
	})
	t.Run("prune", func(t *testing.T) {
		wantCode(t, e.lodger(t, "volume", "create", "named"), 0)
		wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "anon1", "-v", "/anon", busybox, "sh", "-c", "echo 12345 >/anon/f"), 0)
		wantCode(t, e.lodger(t, "rm", "anon1"), 0) // without -v: the volume stays
		vols := e.volumes(t)
		if len(vols) != 2 {
			t.Fatalf("volumes %v, want named and one anonymous", vols)
		}
		anon := vols[0]
		if anon == "named" {
			anon = vols[1]
		}
		// Without -f, prune asks; no answer is no.
		r := call{env: e, stdin: strings.NewReader("")}.run(t, "volume", "prune")
		wantCode(t, r, 0)
		if len(e.volumes(t)) != 2 {
			t.Errorf("%s\nprune without -f and without a yes removed volumes", r)
		}
		r = call{env: e, stdin: strings.NewReader("y\n")}.run(t, "volume", "prune")
		wantCode(t, r, 0)
		if !strings.Contains(r.stdout, anon) || strings.Contains(r.stdout, "named") {
			t.Errorf("%s\nwant the anonymous volume %s pruned and named kept", r, anon)
		}
		wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "named\n")
		r = e.lodger(t, "volume", "prune", "-f", "--all")
		wantCode(t, r, 0)
		if !strings.Contains(r.stdout, "named") {
			t.Errorf("%s\nwant named pruned with --all", r)
		}
		wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "")
	})
	wantNothingLeft(t, e)
}

func TestTmpfs(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	t.Run("size and mode", func(t *testing.T) {
		r := e.runRm(t, "--tmpfs", "/scratch:size=1m,mode=1770", busybox, "sh", "-c", "stat -c %a /scratch && cat /proc/mounts")
		l := mountLine(t, r, "/scratch")
		if !strings.HasPrefix(r.stdout, "1770\n") {
			t.Errorf("%s\nwant mode 1770", r)
		}
		for _, w := range []string{"tmpfs", "size=1024k", "nosuid", "nodev", "noexec"} {
			if !strings.Contains(l, w) {
				t.Errorf("mount %q lacks %s", l, w)
			}
		}
		r = e.runRm(t, "--tmpfs", "/scratch:size=1m", busybox, "dd", "if=/dev/zero", "of=/scratch/big", "bs=1024", "count=2048")
		if r.code == 0 || !strings.Contains(r.stderr, "No space left") {
			t.Errorf("%s\nwant a 2 MiB write into a 1 MiB tmpfs to fail", r)
		}
	})
	t.Run("mount", func(t *testing.T) {
		r := e.runRm(t, "--mount", "type=tmpfs,destination=/t,tmpfs-size=2m,tmpfs-mode=700", busybox, "sh", "-c", "stat -c %a /t && cat /proc/mounts")
		l := mountLine(t, r, "/t")
		if !strings.HasPrefix(r.stdout, "700\n") || !strings.Contains(l, "size=2048k") {
			t.Errorf("%s\nwant a 2 MiB tmpfs of mode 700", r)
		}
	})
	t.Run("exec", func(t *testing.T) {
		script := "cp /bin/busybox /t/busybox && /t/busybox true && echo ran"
		wantStdout(t, e.runRm(t, "--tmpfs", "/t:exec", busybox, "sh", "-c", script), "ran\n")
		r := e.runRm(t, "--tmpfs", "/t", busybox, "sh", "-c", script)
		if r.code == 0 {
			t.Errorf("%s\nwant exec refused on a default (noexec) tmpfs", r)
		}
	})
	wantNothingLeft(t, e)
}

func TestReadOnly(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := hostDir(t, e, "ro")
	t.Run("root", func(t *testing.T) {
		r := e.runRm(t, "--read-only", busybox, "touch", "/etc/x")
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("%s\nwant writes to / refused", r)
		}
		l := mountLine(t, e.runRm(t, "--read-only", busybox, "cat", "/proc/mounts"), "/")
		if !strings.Contains(" "+strings.Fields(l)[3]+",", " ro,") {
			t.Errorf("root mount %q is not ro", l)
		}
	})
	t.Run("writable tmpfs and mounts", func(t *testing.T) {
		wantStdout(t, e.runRm(t, "--read-only", "-v", dir+":/data", "-v", "rovol:/vol", busybox, "sh", "-c",
			"touch /tmp/x /run/x /dev/shm/x /data/x /vol/x && echo ok"), "ok\n")
		if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
			t.Errorf("write to the bind under --read-only: %v", err)
		}
		// A bind below the /tmp tmpfs gets its mount point in the tmpfs.
		wantStdout(t, e.runRm(t, "--read-only", "-v", dir+":/tmp/sub/data:ro", busybox, "ls", "/tmp/sub/data/x"), "/tmp/sub/data/x\n")
	})
	t.Run("read-only-tmpfs=false", func(t *testing.T) {
		r := e.runRm(t, "--read-only", "--read-only-tmpfs=false", busybox, "touch", "/tmp/x")
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("%s\nwant /tmp read-only without --read-only-tmpfs", r)
		}
		wantOK(t, e.runRm(t, "--read-only", "--read-only-tmpfs=false", busybox, "touch", "/dev/shm/x"))
	})
	wantNothingLeft(t, e)
}

func TestMountShmSize(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "size=65536k"},
		{[]string{"--shm-size", "2m"}, "size=2048k"},
		{[]string{"--shm-size=1g"}, "size=1048576k"},
		// A mount of the user's own at /dev/shm wins.
		{[]string{"--shm-size", "2m", "--tmpfs", "/dev/shm:size=3m"}, "size=3072k"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			r := runRm(t, append(tc.flags, busybox, "sh", "-c", "cat /proc/mounts; df -k /dev/shm")...)
			l := mountLine(t, r, "/dev/shm")
			if !strings.Contains(l, tc.want) {
				t.Errorf("%s\n/dev/shm mount %q, want %s", r, l, tc.want)
			}
			n := strings.TrimSuffix(strings.TrimPrefix(tc.want, "size="), "k")
			if !regexp.MustCompile(`\s` + n + `\s.*/dev/shm`).MatchString(r.stdout) {
				t.Errorf("%s\nwant df to show %s KiB for /dev/shm", r, n)
			}
		})
	}
}

// TestMountErrors checks that every bad mount flag fails with 125 and a
// message naming the flag and its value, before any container or volume
// exists.
func TestMountErrors(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	dir := hostDir(t, e, "errors")
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		flags []string
		words []string
	}{
		{"relative bind", []string{"-v", "./rel:/x"}, []string{"-v", "./rel:/x", "relative bind source"}},
		{"relative bind with slash", []string{"-v", "rel/dir:/x"}, []string{"relative bind source"}},
		{"missing bind source", []string{"-v", missing + ":/x"}, []string{"bind source " + missing + " does not exist"}},
		{"missing --mount source", []string{"--mount", "type=bind,src=" + missing + ",dst=/x"}, []string{"--mount", missing, "does not exist"}},
		{"bad volume name", []string{"-v", "a:/x"}, []string{"invalid volume name"}},
		{"relative destination", []string{"-v", dir + ":x"}, []string{"not an absolute path"}},
		{"destination /", []string{"-v", dir + ":/"}, []string{"cannot be /"}},
		{"unknown -v option", []string{"-v", dir + ":/x:shared"}, []string{"-v", "shared"}},
		{"conflicting -v options", []string{"-v", dir + ":/x:ro,rw"}, []string{"conflict"}},
		{"too many colons", []string{"-v", dir + ":/x:ro:z"}, []string{"too many"}},
		{"mount without target", []string{"--mount", "type=bind,src=" + dir}, []string{"--mount", "no target"}},
		{"mount propagation", []string{"--mount", "type=bind,src=" + dir + ",dst=/x,bind-propagation=rshared"}, []string{"rprivate"}},
		{"mount type", []string{"--mount", "type=nfs,dst=/x"}, []string{"nfs"}},
		{"mount unknown key", []string{"--mount", "type=volume,dst=/x,driver=y"}, []string{"unknown option"}},
		{"mount tmpfs mode", []string{"--mount", "type=tmpfs,dst=/x,tmpfs-mode=999"}, []string{"tmpfs-mode=999"}},
		{"mount mixed options", []string{"--mount", "type=volume,dst=/x,tmpfs-size=1m"}, []string{"tmpfs-size"}},
		{"tmpfs size", []string{"--tmpfs", "/x:size=lots"}, []string{"--tmpfs", "size=lots"}},
		{"tmpfs relative", []string{"--tmpfs", "x"}, []string{"--tmpfs", "not an absolute path"}},
		{"tmpfs option", []string{"--tmpfs", "/x:bogus"}, []string{"bogus"}},
		{"shm size zero", []string{"--shm-size", "0"}, []string{"--shm-size", "0"}},
		{"shm size words", []string{"--shm-size", "lots"}, []string{"--shm-size", "lots"}},
		{"duplicate destination", []string{"-v", "vol1:/x", "--tmpfs", "/x"}, []string{"duplicate mount destination /x"}},
		{"good volume then bad bind", []string{"-v", "newvol:/y", "-v", missing + ":/x"}, []string{"does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.lodger(t, append(append([]string{"run", "-q", noTLS}, tc.flags...), busybox, "true")...)
			wantError(t, r, 125, tc.words...)
			if r.stdout != "" {
				t.Errorf("%s\nwant nothing on stdout", r)
			}
		})
	}
	t.Run("volume over a file in the image", func(t *testing.T) {
		// Found only once the rootfs is there: --rm takes the container
		// and the anonymous volumes made for it.
		r := e.runRm(t, "-v", "/anon", "-v", "vol1:/bin/busybox", busybox, "true")
		wantError(t, r, 125, "/bin/busybox")
		if got := e.volumes(t); len(got) != 1 || got[0] != "vol1" {
			t.Errorf("volumes after a failed run --rm: %v, want only the named vol1", got)
		}
		wantCode(t, e.lodger(t, "volume", "rm", "vol1"), 0)
	})
	if got := e.volumes(t); len(got) != 0 {
		t.Errorf("volumes after failed runs: %v, want none", got)
	}
	wantNothingLeft(t, e)
}
