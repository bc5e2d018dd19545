//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests of issue 12, finding 2: with XDG_RUNTIME_DIR unset (su, cron,
// CI) lodger's run directory is /tmp/lodger-run-UID, a name any local user
// can create first. The attacker is a second local user, lodgertest2, whose
// planter (tests/planter, started by run.sh as root) plants directories
// there on request. Only these tests use the /tmp fallback: they run one
// after the other and leave /tmp/lodger-run-UID as they found it (absent).

// tmpRunDir is the victim's run directory without XDG_RUNTIME_DIR.
func tmpRunDir() string { return fmt.Sprintf("/tmp/lodger-run-%d", os.Getuid()) }

// planter asks the second test user to plant.
type planter struct{ sock string }

type plantRequest struct {
	Op      string `json:"op"`
	Path    string `json:"path,omitempty"`
	Target  string `json:"target,omitempty"`
	Content string `json:"content,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
}

type plantReply struct {
	Error   string   `json:"error"`
	UID     int      `json:"uid"`
	Entries []string `json:"entries"`
}

// planterSock is the planter's socket, "" when this run has none.
func planterSock() string { return os.Getenv("LODGER_TEST_PLANTER") }

// needPlanter returns the planter or fails t: the attacker of these tests
// is another local user, and only run.sh as root can make one.
func needPlanter(t *testing.T) planter {
	t.Helper()
	s := planterSock()
	if s == "" {
		if os.Getenv("LODGER_TEST_ROOT_SETUP") == "1" {
			t.Fatal("run.sh set the machine up but passed no LODGER_TEST_PLANTER: the second user's planter did not start")
		}
		t.Fatal("this case needs a second unprivileged user who plants the run directory: run tests/e2e/run.sh as root, which creates lodgertest2, starts its planter (tests/planter) and passes its socket as LODGER_TEST_PLANTER")
	}
	return planter{sock: s}
}

func (p planter) do(req plantRequest) (plantReply, error) {
	var rep plantReply
	c, err := net.DialTimeout("unix", p.sock, 5*time.Second)
	if err != nil {
		return rep, fmt.Errorf("planter: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return rep, fmt.Errorf("planter: %v", err)
	}
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return rep, fmt.Errorf("planter: %v", err)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("planter %s %s: %s", req.Op, req.Path, rep.Error)
	}
	return rep, nil
}

func (p planter) must(t *testing.T, req plantRequest) plantReply {
	t.Helper()
	rep, err := p.do(req)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (p planter) uid(t *testing.T) int { return p.must(t, plantRequest{Op: "whoami"}).UID }

func (p planter) mkdir(t *testing.T, path string, mode uint32) {
	p.must(t, plantRequest{Op: "mkdir", Path: path, Mode: mode})
}

func (p planter) write(t *testing.T, path, content string, mode uint32) {
	p.must(t, plantRequest{Op: "write", Path: path, Content: content, Mode: mode})
}

func (p planter) list(t *testing.T, path string) []string {
	return p.must(t, plantRequest{Op: "list", Path: path}).Entries
}

// victimContainer runs a container of the victim's in e (with its own
// XDG_RUNTIME_DIR) and returns its host pid: the pid the attacker plants.
func victimContainer(t *testing.T, e *env) int {
	t.Helper()
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "victim", busybox, "sleep", "1000"), 0)
	r := e.lodger(t, "inspect", "-f", "{{.State.Pid}}", "victim")
	wantCode(t, r, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s\nwant the container's pid", r)
	}
	return pid
}

// forgedRecord is the keeper record an attacker can write for pid from
// what /proc shows every user: its start time and the boot id. Only the
// directory's owner and mode, and the process's parent, stand against it.
func forgedRecord(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s %s\n", pid, f[19], strings.TrimSpace(string(boot)))
}

// tmpRunEnv is an environment of t's own without XDG_RUNTIME_DIR, so that
// lodger's run directory is tmpRunDir(). A marker in its environment lets
// the cleanup find the keeper it may start, which does not carry the
// runtime directory env.close looks for.
func tmpRunEnv(t *testing.T) *env {
	t.Helper()
	e := isolatedEnv(t)
	c := *e
	c.vars = nil
	for _, v := range e.vars {
		if !strings.HasPrefix(v, "XDG_RUNTIME_DIR=") {
			c.vars = append(c.vars, v)
		}
	}
	marker := "LODGER_E2E_TMPRUN=" + e.dir
	c.vars = append(c.vars, marker)
	clearTmpRunDir(t)
	t.Cleanup(func() {
		// Files of subordinate ids in the graph root go as root of the
		// session; then the keeper, then the run directory.
		if pid := ownTmpKeeper(); pid != 0 {
			_ = exec.Command("nsenter", "-t", strconv.Itoa(pid), "-U", "--", "rm", "-rf", "--one-file-system", e.data, e.tmp).Run()
		}
		killByEnv(marker)
		clearTmpRunDir(t)
	})
	return &c
}

// ownTmpKeeper is the pid in tmpRunDir()'s child_pid when the directory is
// the victim's own and private, else 0.
func ownTmpKeeper() int {
	fi, err := os.Lstat(tmpRunDir())
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(tmpRunDir(), "session", "child_pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// clearTmpRunDir removes tmpRunDir(): the victim's own directly, the
// attacker's through the planter.
func clearTmpRunDir(t *testing.T) {
	t.Helper()
	dir := tmpRunDir()
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != os.Getuid() {
		if planterSock() == "" {
			t.Fatalf("%s belongs to uid %d, left by an earlier run: remove it as root", dir, uid)
		}
		if _, err := (planter{planterSock()}).do(plantRequest{Op: "remove", Path: dir}); err != nil {
			t.Fatal(err)
		}
		return
	}
	// What the attacker planted inside the victim's writable directory
	// only the attacker may remove.
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		if fi, err := os.Lstat(p); err == nil && int(fi.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
			if _, err := (planter{planterSock()}).do(plantRequest{Op: "remove", Path: p}); err != nil {
				t.Fatalf("clean up %s: %v", p, err)
			}
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("clean up %s: %v", dir, err)
	}
}

// listTree lists dir's entries (relative paths) as the victim sees them.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRefused checks that the victim's lodger refuses the planted run
// directory, naming path and the problem: exit 1 from images, 125 from
// run (lodger's own error).
func wantRefused(t *testing.T, e *env, path string, words ...string) {
	t.Helper()
	r := e.lodger(t, "images")
	wantError(t, r, 1, append([]string{path, "XDG_RUNTIME_DIR"}, words...)...)
	t.Logf("refused: %s", r.stderr)
	wantError(t, e.lodger(t, "run", "--rm", "-q", noTLS, busybox, "true"), 125, append([]string{path}, words...)...)
}

func TestPlantedRunDir(t *testing.T) {
	victim := isolatedEnv(t)
	ctr := victimContainer(t, victim)
	dir := tmpRunDir()

	t.Run("another user's directory names the victim's container", func(t *testing.T) {
		p := needPlanter(t)
		e := tmpRunEnv(t)
		p.mkdir(t, dir, 0o777)
		p.mkdir(t, dir+"/session", 0o777)
		p.write(t, dir+"/session/child_pid", strconv.Itoa(ctr), 0o644)
		p.write(t, dir+"/session/keeper", forgedRecord(t, ctr), 0o644)
		before := p.list(t, dir)
		wantRefused(t, e, dir, fmt.Sprintf("owned by uid %d", p.uid(t)), "administrator")
		if after := p.list(t, dir); !slices.Equal(after, before) {
			t.Errorf("the planted directory held %v, now %v: the victim wrote into it", before, after)
		}
	})

	t.Run("another user's symbolic link", func(t *testing.T) {
		p := needPlanter(t)
		e := tmpRunEnv(t)
		target := fmt.Sprintf("/tmp/lodger-planted-%d", os.Getpid())
		p.mkdir(t, target, 0o777)
		t.Cleanup(func() { _, _ = p.do(plantRequest{Op: "remove", Path: target}) })
		p.mkdir(t, target+"/session", 0o777)
		p.write(t, target+"/session/child_pid", strconv.Itoa(ctr), 0o644)
		p.write(t, target+"/session/keeper", forgedRecord(t, ctr), 0o644)
		p.must(t, plantRequest{Op: "symlink", Target: target, Path: dir})
		before := p.list(t, target)
		wantRefused(t, e, dir, "symbolic link", "administrator")
		if after := p.list(t, target); !slices.Equal(after, before) {
			t.Errorf("the link's target held %v, now %v: the victim wrote into it", before, after)
		}
	})

	t.Run("the victim's directory others may write in", func(t *testing.T) {
		e := tmpRunEnv(t)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, e, dir, "mode 0777")
		if got := listTree(t, dir); len(got) != 0 {
			t.Errorf("the refused directory now holds %v", got)
		}
		// The attacker plants the session inside it.
		p := needPlanter(t)
		p.mkdir(t, dir+"/session", 0o755)
		p.write(t, dir+"/session/child_pid", strconv.Itoa(ctr), 0o644)
		p.write(t, dir+"/session/keeper", forgedRecord(t, ctr), 0o644)
		before := listTree(t, dir)
		wantRefused(t, e, dir, "mode 0777")
		if after := listTree(t, dir); !slices.Equal(after, before) {
			t.Errorf("the planted directory held %v, now %v: the victim wrote into it", before, after)
		}
	})

	t.Run("the victim's own symbolic link", func(t *testing.T) {
		e := tmpRunEnv(t)
		target := t.TempDir()
		if err := os.Mkdir(filepath.Join(target, "session"), 0o700); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"child_pid": strconv.Itoa(ctr), "keeper": forgedRecord(t, ctr)} {
			if err := os.WriteFile(filepath.Join(target, "session", name), []byte(content), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, dir); err != nil {
			t.Fatal(err)
		}
		before := listTree(t, target)
		wantRefused(t, e, dir, "symbolic link", "remove it")
		if after := listTree(t, target); !slices.Equal(after, before) {
			t.Errorf("the link's target held %v, now %v", before, after)
		}
	})

	// In the victim's own private directory only the victim (or a
	// container given it as a volume) can have written child_pid: it is
	// stale state, a keeper that died and whose pid a container process
	// got, not an attack on the directory. lodger does not join it and
	// starts a fresh keeper, as after any keeper's death.
	for _, tc := range []struct{ name, record string }{
		{"no keeper record", ""},
		{"a record of another start time (pid reused)", strings.Replace(forgedRecord(t, ctr), " ", " 1", 1)},
		{"a record a container could forge", forgedRecord(t, ctr)},
	} {
		t.Run("the victim's own directory names its container: "+tc.name, func(t *testing.T) {
			e := tmpRunEnv(t)
			if err := os.MkdirAll(filepath.Join(dir, "session"), 0o700); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{"child_pid": strconv.Itoa(ctr)}
			if tc.record != "" {
				files["keeper"] = tc.record
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(dir, "session", name), []byte(content), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			wantStdout(t, e.runRm(t, busybox, "echo", "fresh"), "fresh\n")
			keeper := ownTmpKeeper()
			if keeper == 0 || keeper == ctr {
				t.Fatalf("child_pid is %d after the run, want a fresh keeper, not the container %d", keeper, ctr)
			}
			mnt := func(pid int) string {
				l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			if mnt(keeper) == mnt(ctr) {
				t.Errorf("the new keeper %d shares the container's mount namespace", keeper)
			}
			wantCode(t, e.lodger(t, "images"), 0)
		})
	}
	// The container was only a pid to plant: it still runs.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", ctr)); err != nil {
		t.Errorf("the victim's container died: %v", err)
	}
}

// TestLoginWithoutRuntimeDir logs in with XDG_RUNTIME_DIR unset (su, cron,
// CI): the credentials go to the user's $XDG_CONFIG_HOME/containers/auth.json
// (not root's /run/containers/0/auth.json, issue 12), 0600, and pull and
// logout find them there.
func TestLoginWithoutRuntimeDir(t *testing.T) {
	const user, password = "tester", "s3cret-passw0rd"
	reg := startTLSRegistry(t, user, password)
	e := tmpRunEnv(t)
	certDir := "--cert-dir=" + reg.certDir
	authFile := filepath.Join(e.config, "containers", "auth.json")

	r := call{env: e, stdin: strings.NewReader(password + "\n")}.run(t, "login", "-u", user, "--password-stdin", certDir, reg.host)
	wantStdout(t, r, "Login Succeeded!\n")
	fi, err := os.Stat(authFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v; want the credentials there, mode 0600", authFile, err)
	}
	if b, _ := os.ReadFile(authFile); !strings.Contains(string(b), reg.host) {
		t.Errorf("%s holds %s, want credentials for %s", authFile, b, reg.host)
	}

	// A pull with the stored credentials, after pushing with them.
	e.pull(t, busybox, noTLS)
	image := reg.host + "/private/busybox:v1"
	wantCode(t, e.lodger(t, "tag", busybox, image), 0)
	wantCode(t, e.lodger(t, "push", "-q", certDir, image), 0)
	wantCode(t, e.lodger(t, "rmi", image), 0)
	e.pull(t, image, certDir)

	wantStdout(t, e.lodger(t, "logout", reg.host), "Removed login credentials for "+reg.host+"\n")
	if b, _ := os.ReadFile(authFile); strings.Contains(string(b), reg.host) {
		t.Errorf("%s still holds %s after logout", authFile, reg.host)
	}
	wantCode(t, e.lodger(t, "rmi", image), 0)
	wantError(t, e.lodger(t, "pull", "-q", certDir, image), 1, reg.host)
}
