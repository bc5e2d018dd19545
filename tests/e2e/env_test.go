//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// callTimeout bounds every lodger invocation, so that a hung one fails
// its test. Most take well under a second; a build or a pull on a loaded
// machine may take tens of seconds, which must not count as a hang.
const callTimeout = 120 * time.Second

// noTLS lets lodger talk plain http to the test registry. Tests that
// exercise registries.conf leave it out.
const noTLS = "--tls-verify=false"

// ref names an image of the imagegen test set in the test registry.
func ref(nameTag string) string { return registry + "/lodger-test/" + nameTag }

// env is one isolated lodger installation: its own HOME, graph root,
// runtime directory (and so session keeper), config and TMPDIR.
type env struct {
	dir     string
	home    string
	data    string // XDG_DATA_HOME
	runtime string // XDG_RUNTIME_DIR
	config  string // XDG_CONFIG_HOME
	tmp     string // TMPDIR
	vars    []string
}

var (
	envMu   sync.Mutex
	envs    []*env
	envSeen = map[string]int{}
	// envsClosed is set once cleanup has begun; no environment may be
	// made after that, or it would escape the cleanup.
	envsClosed bool
)

// newEnv makes an environment named name under scratch. Names stay short:
// the runtime directory holds unix sockets, whose paths are limited to 108
// bytes.
func newEnv(name string) (*env, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if envsClosed {
		return nil, errors.New("the suite is shutting down")
	}
	envSeen[name]++
	if n := envSeen[name]; n > 1 {
		name += strconv.Itoa(n)
	}
	dir := filepath.Join(scratch, name)
	e := &env{
		dir:     dir,
		home:    filepath.Join(dir, "home"),
		data:    filepath.Join(dir, "data"),
		runtime: filepath.Join(dir, "run"),
		config:  filepath.Join(dir, "config"),
		tmp:     filepath.Join(dir, "tmp"),
	}
	for _, d := range []string{e.dir, e.home, e.data, e.runtime, e.config, e.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/sbin:/usr/bin:/sbin:/bin"
	}
	e.vars = []string{
		"PATH=" + path,
		"HOME=" + e.home,
		"XDG_DATA_HOME=" + e.data,
		"XDG_RUNTIME_DIR=" + e.runtime,
		"XDG_CONFIG_HOME=" + e.config,
		"TMPDIR=" + e.tmp,
		"LANG=C.UTF-8",
	}
	if u := os.Getenv("USER"); u != "" {
		e.vars = append(e.vars, "USER="+u)
	}
	envs = append(envs, e)
	return e, nil
}

// isolatedEnv gives t an environment of its own, closed when t ends.
func isolatedEnv(t *testing.T) *env {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 24 {
		name = name[:24]
	}
	e, err := newEnv(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// closeAllEnvs closes environments whose test did not (a panic, say).
func closeAllEnvs() {
	envMu.Lock()
	envsClosed = true
	all := envs
	envs = nil
	envMu.Unlock()
	for _, e := range all {
		e.close()
	}
}

// keeperPID returns the pid that holds the session namespaces, or 0.
func (e *env) keeperPID() int {
	b, err := os.ReadFile(filepath.Join(e.runtime, "lodger", "session", "child_pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// inSession runs a host command as root of the session user namespace (not
// its mount namespace), where files owned by subordinate ids can be read and
// removed. nsenter needs no privilege for a namespace the user owns.
func (e *env) inSession(args ...string) ([]byte, error) {
	pid := e.keeperPID()
	if pid == 0 {
		return nil, errors.New("no session keeper")
	}
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-U", "--"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("nsenter %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// close removes the environment's files and kills every process started
// with its runtime directory: the session keeper, its namespace holder and
// any lodger left running.
func (e *env) close() {
	envMu.Lock()
	for i, x := range envs {
		if x == e {
			envs = append(envs[:i], envs[i+1:]...)
			break
		}
	}
	envMu.Unlock()
	if _, err := os.Stat(e.dir); err != nil {
		return
	}
	_, _ = e.inSession("rm", "-rf", "--one-file-system", e.data, e.tmp)
	killByEnv("XDG_RUNTIME_DIR=" + e.runtime)
	if err := os.RemoveAll(e.dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: clean up %s: %v\n", e.dir, err)
	}
}

// killByEnv SIGKILLs this user's processes whose environment holds entry,
// until none is left.
func killByEnv(entry string) {
	want := []byte(entry)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		found := false
		for _, pid := range pids() {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil {
				continue
			}
			for _, kv := range bytes.Split(b, []byte{0}) {
				if bytes.Equal(kv, want) {
					found = true
					_ = syscall.Kill(pid, syscall.SIGKILL)
					break
				}
			}
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "e2e: processes with %s survived SIGKILL\n", entry)
}

// pids lists the processes this user owns (others' environ is unreadable
// anyway).
func pids() []int {
	ents, _ := os.ReadDir("/proc")
	uid := os.Getuid()
	var out []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if fi, err := os.Stat("/proc/" + d.Name()); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
				out = append(out, pid)
			}
		}
	}
	return out
}

// result is what one lodger invocation showed the user.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
	logs   string // the end of each log a failed command's error names
}

func (r result) String() string {
	return fmt.Sprintf("$ lodger %s\nexit %d\n--- stdout\n%s--- stderr\n%s---%s", shellQuote(r.args), r.code, r.stdout, r.stderr, r.logs)
}

// namedLog matches a log file an error message points the user to, as
// "(see /run/…/gateway.log)".
var namedLog = regexp.MustCompile(`\(see (/[^ )]+\.log)\)`)

// namedLogs is the last 4 KiB of each log that stderr names: the test's
// directories are gone when its failure is read.
func namedLogs(stderr string) string {
	var b strings.Builder
	for _, m := range namedLog.FindAllStringSubmatch(stderr, 3) {
		data, err := os.ReadFile(m[1])
		if err != nil {
			fmt.Fprintf(&b, "\n--- %s: %v", m[1], err)
			continue
		}
		if len(data) > 4096 {
			data = data[len(data)-4096:]
		}
		fmt.Fprintf(&b, "\n--- %s\n%s---", m[1], data)
	}
	return b.String()
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|<>()*?\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// call is one lodger invocation in an environment.
type call struct {
	env   *env
	stdin io.Reader
	extra []string // more environment variables
	bin   string   // a lodger binary other than LODGER_BIN
}

// lodger runs the binary in the shared environment.
func lodger(t *testing.T, args ...string) result {
	t.Helper()
	return shared.lodger(t, args...)
}

// lodger runs the binary in e with no stdin.
func (e *env) lodger(t *testing.T, args ...string) result {
	t.Helper()
	return call{env: e}.run(t, args...)
}

// command prepares lodger args in e for tests that drive the process
// themselves (signals, terminals).
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, lodgerBin, args...)
	cmd.Env = append([]string(nil), e.vars...)
	cmd.Dir = e.home
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (c call) run(t *testing.T, args ...string) result {
	t.Helper()
	r, err := c.do(args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// do is run for goroutines: failures to start, time out or survive come
// back as errors.
func (c call) do(args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := c.env.command(ctx, args...)
	if c.bin != "" {
		cmd.Path, cmd.Args[0] = c.bin, c.bin
	}
	cmd.Env = append(cmd.Env, c.extra...)
	cmd.Stdin = c.stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		r.logs = namedLogs(r.stderr)
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code = -1
		return r, fmt.Errorf("%s\ntimed out after %s", r, callTimeout)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return r, fmt.Errorf("%s\nlodger itself was killed by %s", r, ws.Signal())
		}
	case err != nil:
		return r, fmt.Errorf("start lodger %s: %v", shellQuote(args), err)
	}
	return r, nil
}

// runRm runs `lodger run --rm -q --tls-verify=false ARGS...` in the shared
// environment: the quietest way to run a test image.
func runRm(t *testing.T, args ...string) result {
	t.Helper()
	return shared.runRm(t, args...)
}

func (e *env) runRm(t *testing.T, args ...string) result {
	t.Helper()
	return e.lodger(t, append([]string{"run", "--rm", "-q", noTLS}, args...)...)
}

// wantCode fails t unless r exited with code.
func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s\nwant exit code %d, got %d", r, code, r.code)
	}
}

// wantOK fails t unless r exited 0 and printed nothing on stderr.
func wantOK(t *testing.T, r result) {
	t.Helper()
	wantCode(t, r, 0)
	if r.stderr != "" {
		t.Errorf("%s\nwant nothing on stderr", r)
	}
}

// wantStdout fails t unless r exited 0 and printed exactly want.
func wantStdout(t *testing.T, r result, want string) {
	t.Helper()
	wantCode(t, r, 0)
	if r.stdout != want {
		t.Errorf("%s\nwant stdout %q, got %q", r, want, r.stdout)
	}
}

// wantError fails t unless r exited with code and printed one lodger error
// containing every one of words.
func wantError(t *testing.T, r result, code int, words ...string) {
	t.Helper()
	wantCode(t, r, code)
	if !strings.HasPrefix(r.stderr, "lodger: ") {
		t.Errorf("%s\nwant stderr to start with %q", r, "lodger: ")
	}
	for _, w := range words {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s\nwant stderr to mention %q", r, w)
		}
	}
}

// pull pulls an image quietly into e and returns its id.
func (e *env) pull(t *testing.T, image string, flags ...string) string {
	t.Helper()
	r := e.lodger(t, append(append([]string{"pull", "-q"}, flags...), image)...)
	wantCode(t, r, 0)
	id := strings.TrimSpace(r.stdout)
	if !imageIDRE.MatchString(r.stdout) {
		t.Fatalf("%s\nwant a 64-hex image id on stdout", r)
	}
	return id
}

var imageIDRE = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// imageRow is one entry of `images --format json`.
type imageRow struct {
	ID         string `json:"ID"`
	Repository string `json:"Repository"`
	Tag        string `json:"Tag"`
	Digest     string `json:"Digest"`
	// Names are the image's tagged names, from all its lines.
	Names []string `json:"-"`
}

// images is `images --no-trunc --format json`, Docker's lines, with the
// IDs without their sha256: and the names of each image gathered.
func (e *env) images(t *testing.T) []imageRow {
	t.Helper()
	r := e.lodger(t, "images", "--no-trunc", "--format", "json")
	wantCode(t, r, 0)
	rows := jsonLines[imageRow](t, r)
	names := map[string][]string{}
	for i := range rows {
		rows[i].ID = strings.TrimPrefix(rows[i].ID, "sha256:")
		if rows[i].Digest == "<none>" {
			rows[i].Digest = ""
		}
		if rows[i].Tag != "<none>" {
			names[rows[i].ID] = append(names[rows[i].ID], rows[i].Repository+":"+rows[i].Tag)
		}
	}
	for i := range rows {
		rows[i].Names = names[rows[i].ID]
	}
	return rows
}

// containerRow is one line of `ps -a --no-trunc --format json`, Docker's
// field names.
type containerRow struct {
	ID      string `json:"ID"`
	Name    string `json:"Names"`
	Image   string `json:"Image"`
	Command string `json:"Command"`
	State   string `json:"State"`
	Status  string `json:"Status"`
}

func (e *env) containers(t *testing.T) []containerRow {
	t.Helper()
	r := e.lodger(t, "ps", "-a", "--no-trunc", "--format", "json")
	wantCode(t, r, 0)
	return jsonLines[containerRow](t, r)
}

// jsonLines parses --format json output: one object per line, as
// Docker's CLI prints it.
func jsonLines[T any](t *testing.T, r result) []T {
	t.Helper()
	rows := []T{}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var row T
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("%s\nparse: %v", r, err)
		}
		rows = append(rows, row)
	}
	return rows
}

// info is the part of `info --format json` the tests read.
type info struct {
	Host struct {
		Rootless bool `json:"rootless"`
		UID      int  `json:"uid"`
	} `json:"host"`
	Storage struct {
		Driver     string `json:"driver"`
		GraphRoot  string `json:"graphRoot"`
		RunRoot    string `json:"runRoot"`
		Images     int    `json:"images"`
		Containers int    `json:"containers"`
	} `json:"storage"`
}

func (e *env) info(t *testing.T) info {
	t.Helper()
	r := e.lodger(t, "info", "--format", "json")
	wantCode(t, r, 0)
	var i info
	if err := json.Unmarshal([]byte(r.stdout), &i); err != nil {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	return i
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// gate is a host directory a container waits on, bind-mounted at /gate:
// the container runs gateWait and goes on when the test opens the gate,
// not after a time that a loaded machine may spend before the test has
// done its part.
type gate string

// gateWait is the shell loop that waits for the gate to open.
const gateWait = "until [ -e /gate/open ]; do sleep 0.1; done"

// newGate makes a closed gate in e.
func newGate(t *testing.T, e *env) gate {
	t.Helper()
	dir, err := os.MkdirTemp(e.dir, "gate")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return gate(dir)
}

// volume is the -v argument that mounts the gate at /gate.
func (g gate) volume() string { return string(g) + ":/gate" }

// open lets every container waiting on g go on.
func (g gate) open(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(string(g), "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
