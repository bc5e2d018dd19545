//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiService is a `lodger system service` of an environment, and the
// docker CLI pointed at it.
type apiService struct {
	e    *env
	sock string
	cmd  *exec.Cmd
	log  *strings.Builder
}

// dockerBin is Docker's CLI: LODGER_TEST_DOCKER, or docker in PATH or
// /usr/local/bin, where the machine image ships it.
func dockerBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LODGER_TEST_DOCKER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("docker"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/bin/docker"); err == nil {
		return "/usr/local/bin/docker"
	}
	t.Fatal("Docker's CLI not found: set LODGER_TEST_DOCKER or put docker in PATH")
	return ""
}

// startService starts the API service in e on its default socket, with
// args added, and waits until it answers.
func startService(t *testing.T, e *env, args ...string) *apiService {
	t.Helper()
	s := &apiService{e: e, sock: filepath.Join(e.runtime, "lodger", "lodger.sock"), log: &strings.Builder{}}
	cmd := e.command(context.Background(), append([]string{"system", "service", "--tls-verify=false"}, args...)...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not listen on %s in 30s:\n%s", s.sock, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// docker runs Docker's CLI against the service.
func (s *apiService) docker(t *testing.T, args ...string) result {
	t.Helper()
	return call{env: s.e, bin: dockerBin(t), extra: []string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_CONFIG=" + filepath.Join(s.e.home, ".docker")}}.run(t, args...)
}

// raw sends one HTTP request on the socket and returns the status and
// body.
func (s *apiService) raw(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}, Timeout: 60 * time.Second}
	req, err := http.NewRequest(method, "http://lodger"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantDockerError checks a docker CLI failure: its exit code and the
// daemon's message, as Docker's CLI prints it.
func wantDockerError(t *testing.T, r result, code int, words ...string) {
	t.Helper()
	wantCode(t, r, code)
	if !strings.Contains(r.stderr, "Error response from daemon: ") {
		t.Errorf("stderr %q; want Docker's \"Error response from daemon: \"", r.stderr)
	}
	for _, w := range words {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q; want %q in it", r.stderr, w)
		}
	}
}

func TestAPIDockerRun(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	// The first run pulls, through the API, with Docker's progress on
	// stderr.
	r := s.docker(t, "run", "--rm", busybox, "echo", "hello from docker")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "Status: Downloaded newer image for "+busybox) {
		t.Errorf("the pull's progress on stderr: %q", r.stderr)
	}
	wantStdout(t, r, "hello from docker\n")
	r = s.docker(t, "run", "--rm", busybox, "echo", "hello from docker")
	wantOK(t, r)
	wantStdout(t, r, "hello from docker\n")
	// Streams apart and the exit code through, as with Docker.
	r = s.docker(t, "run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
	wantCode(t, r, 3)
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("stdout %q, stderr %q; want out and err apart", r.stdout, r.stderr)
	}
	// --rm removed them: neither docker nor lodger lists them.
	if r := s.docker(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("docker ps -aq after run --rm = %q; want nothing", r.stdout)
	}
	if r := e.lodger(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("lodger ps -aq after docker run --rm = %q; want nothing", r.stdout)
	}
}

func TestAPIDockerLifecycle(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS) // the CLI's pull, which the API sees
	wantOK(t, s.docker(t, "run", "-d", "--name", "web", "-p", "8080", "--label", "tier=front", busybox, "sh", "-c", "echo started; exec sleep 300"))
	// The CLI sees what the API made, at once.
	wantStdout(t, e.lodger(t, "ps", "--format", "{{.Names}} {{.State}}"), "web running\n")
	wantStdout(t, s.docker(t, "ps", "--filter", "label=tier=front", "--format", "{{.Names}} {{.State}}"), "web running\n")
	wantStdout(t, s.docker(t, "inspect", "--format", "{{.State.Running}} {{.Name}} {{.Config.Labels.tier}}", "web"), "true /web front\n")
	if r := s.docker(t, "port", "web", "8080"); !strings.Contains(r.stdout, "0.0.0.0:") {
		t.Errorf("docker port web 8080 = %q; want a host port", r.stdout)
	}
	// exec, with its exit code and its output.
	r := s.docker(t, "exec", "web", "sh", "-c", "echo in-exec; echo to-err >&2; exit 4")
	wantCode(t, r, 4)
	if r.stdout != "in-exec\n" || r.stderr != "to-err\n" {
		t.Errorf("exec stdout %q, stderr %q", r.stdout, r.stderr)
	}
	wantStdout(t, s.docker(t, "exec", "-e", "X=y", "-w", "/tmp", "web", "sh", "-c", "echo $X $PWD"), "y /tmp\n")
	// cp both ways.
	src := filepath.Join(e.home, "in.txt")
	if err := os.WriteFile(src, []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantOK(t, s.docker(t, "cp", src, "web:/tmp/in.txt"))
	wantStdout(t, e.lodger(t, "exec", "web", "cat", "/tmp/in.txt"), "copied in\n")
	dst := filepath.Join(e.home, "out.txt")
	wantOK(t, s.docker(t, "cp", "web:/tmp/in.txt", dst))
	if b, err := os.ReadFile(dst); err != nil || string(b) != "copied in\n" {
		t.Errorf("docker cp out: %q, %v", b, err)
	}
	wantDockerError(t, s.docker(t, "cp", "web:/no/such/file", dst), 1, "Could not find the file /no/such/file in container web")
	// stats, top, logs.
	if r := s.docker(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web"); !strings.HasPrefix(r.stdout, "web ") {
		t.Errorf("docker stats --no-stream = %q %q", r.stdout, r.stderr)
	}
	if r := s.docker(t, "top", "web"); !strings.Contains(r.stdout, "sleep 300") {
		t.Errorf("docker top = %q", r.stdout)
	}
	wantStdout(t, s.docker(t, "logs", "web"), "started\n")
	// stop through the API; the CLI sees it exited.
	wantOK(t, s.docker(t, "stop", "-t", "1", "web"))
	wantStdout(t, e.lodger(t, "ps", "-a", "--format", "{{.Names}} {{.State}}"), "web exited\n")
	wantOK(t, s.docker(t, "start", "web"))
	wantStdout(t, s.docker(t, "inspect", "--format", "{{.State.Status}}", "web"), "running\n")
	wantOK(t, s.docker(t, "rm", "-f", "web"))
	if r := e.lodger(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("lodger ps -aq after docker rm -f = %q", r.stdout)
	}
}

func TestAPIDockerLogsFollow(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	wantOK(t, s.docker(t, "run", "-d", "--name", "talker", busybox, "sh", "-c", "echo bye >&2; sleep 0.2; for i in 1 2 3; do echo line$i; sleep 0.2; done"))
	// logs -f ends when the container does, with every line.
	r := s.docker(t, "logs", "-f", "talker")
	wantCode(t, r, 0)
	if r.stdout != "line1\nline2\nline3\n" || r.stderr != "bye\n" {
		t.Errorf("logs -f: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	wantStdout(t, s.docker(t, "logs", "--tail", "1", "talker"), "line3\n")
	wantStdout(t, s.docker(t, "wait", "talker"), "0\n")
}

func TestAPIDockerEvents(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin(t), "events", "--filter", "type=container", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	cmd.Env = append(append([]string{}, e.vars...), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+filepath.Join(e.home, ".docker"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // the stream is open before the run
	// The CLI's run is seen by the API's live stream.
	wantOK(t, e.lodger(t, "run", "--rm", "-q", "--tls-verify=false", "--name", "evt", busybox, "true"))
	want := []string{"create evt", "start evt", "die evt", "destroy evt"}
	var got []string
	timeout := time.After(20 * time.Second)
	for len(got) < len(want) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("events ended early; got %q", got)
			}
			// Other actions (attach) may come between.
			if strings.HasSuffix(l, " evt") && slices.Contains(want, l) {
				got = append(got, l)
			}
		case <-timeout:
			t.Fatalf("events %q; want %q", got, want)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %q; want %q", got, want)
	}
}

func TestAPIBadInput(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	for _, tt := range []struct {
		method, path, body string
		code               int
		word               string
	}{
		{"POST", "/v1.44/containers/create", `{"Image": `, 400, "invalid JSON"},
		{"GET", "/v1.44/containers/nosuchcontainer/json", "", 404, "nosuchcontainer"},
		{"POST", "/v1.44/containers/nosuchcontainer/start", "", 404, "nosuchcontainer"},
		{"DELETE", "/v1.44/containers/nosuchcontainer", "", 404, "nosuchcontainer"},
		{"GET", "/v1.44/images/nosuchimage:1/json", "", 404, "nosuchimage"},
		{"GET", "/v1.44/volumes/nosuchvolume", "", 404, "nosuchvolume"},
		{"POST", "/v1.44/containers/create", `{"Image": "` + registry + `/lodger-test/never-pushed"}`, 404, "never-pushed"},
		{"POST", "/v1.44/containers/create", `{"Image": "x", "Env": ["` + strings.Repeat("a", 5<<20) + `"]}`, 413, "larger than"},
		{"GET", "/v9.99/version", "", 400, "too new"},
		{"POST", "/v1.44/build?version=2", "", 501, "DOCKER_BUILDKIT=0"},
	} {
		code, body := s.raw(t, tt.method, tt.path, tt.body)
		if code != tt.code || !strings.Contains(body, tt.word) || !strings.HasPrefix(body, `{"message":`) {
			t.Errorf("%s %s = %d %.200s; want %d with %q in Docker's {\"message\": ...}", tt.method, tt.path, code, body, tt.code, tt.word)
		}
	}
	// A name in use is 409, and nothing is left half-made.
	e.pull(t, busybox, noTLS)
	body := `{"Image": "` + busybox + `", "Cmd": ["true"]}`
	if code, b := s.raw(t, "POST", "/v1.44/containers/create?name=taken", body); code != 201 {
		t.Fatalf("create = %d %s", code, b)
	}
	if code, b := s.raw(t, "POST", "/v1.44/containers/create?name=taken", body); code != 409 || !strings.Contains(b, "taken") {
		t.Errorf("second create = %d %s; want 409 naming the name", code, b)
	}
	if r := e.lodger(t, "ps", "-a", "--format", "{{.Names}}"); r.stdout != "taken\n" {
		t.Errorf("containers after the conflict: %q; want taken alone", r.stdout)
	}
	// A running container is not removed without force: 409.
	wantOK(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "busy", busybox, "sleep", "300"))
	if code, b := s.raw(t, "DELETE", "/v1.44/containers/busy", ""); code != 409 {
		t.Errorf("DELETE running = %d %s; want 409", code, b)
	}
	if code, b := s.raw(t, "DELETE", "/v1.44/containers/busy?force=1", ""); code != 204 {
		t.Errorf("DELETE running with force = %d %s; want 204", code, b)
	}
}

// openFDs counts the service's open file descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestAPIClientsLeavingMidStreamFreeEverything(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	wantOK(t, e.lodger(t, "run", "-d", "-q", "--tls-verify=false", "--name", "chatty", busybox, "sh", "-c", "while true; do echo tick; sleep 0.1; done"))
	id := strings.TrimSpace(e.lodger(t, "inspect", "--format", "{{.Id}}", "chatty").stdout)
	pid := s.cmd.Process.Pid
	// One of each first, so that what stays open for the server's life
	// (storage's files, the journal) is counted in the baseline.
	streams := []string{
		"GET /v1.44/containers/" + id + "/logs?follow=1&stdout=1 HTTP/1.1",
		"GET /v1.44/events HTTP/1.1",
		"GET /v1.44/containers/" + id + "/stats HTTP/1.1",
		"POST /v1.44/containers/" + id + "/attach?stream=1&stdout=1 HTTP/1.1",
	}
	leave := func() {
		for _, line := range streams {
			c, err := net.Dial("unix", s.sock)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "%s\r\nHost: lodger\r\n\r\n", line)
			buf := make([]byte, 512)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("%s: nothing read: %v", line, err)
			}
			c.Close()
		}
	}
	leave()
	time.Sleep(2 * time.Second)
	before := openFDs(t, pid)
	for range 5 {
		leave()
	}
	var after int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if after = openFDs(t, pid); after <= before {
			break
		}
	}
	if after > before {
		t.Errorf("the service holds %d fds after 20 clients left mid-stream; %d before", after, before)
	}
	if code, _ := s.raw(t, "GET", "/_ping", ""); code != 200 {
		t.Errorf("the service does not answer after the clients left: %d", code)
	}
}

func TestAPIServiceOwnsNothing(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	// The socket and its directory are the user's alone.
	for p, want := range map[string]os.FileMode{s.sock: 0o600, filepath.Dir(s.sock): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o; want %o", p, fi.Mode().Perm(), want)
		}
	}
	wantOK(t, s.docker(t, "run", "-d", "--name", "survivor", busybox, "sleep", "300"))
	// Killed outright, the service takes no container with it.
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	wantStdout(t, e.lodger(t, "ps", "--format", "{{.Names}} {{.State}}"), "survivor running\n")
	// A new service replaces the dead one's socket and sees the container.
	s2 := startService(t, e, "--time", "0")
	wantStdout(t, s2.docker(t, "ps", "--format", "{{.Names}}"), "survivor\n")
	wantOK(t, s2.docker(t, "rm", "-f", "survivor"))
}

func TestAPIServiceIdleExitAndSocketRules(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "1")
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the idle service exited with %v; want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service with --time 1 did not exit when idle")
	}
	if _, err := os.Stat(s.sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after the idle exit: %v", err)
	}
	wantStdout(t, e.lodger(t, "system", "service", "--print-env"), "export DOCKER_HOST=unix://"+s.sock+"\n")
	wantError(t, e.lodger(t, "system", "service", filepath.Join(e.home, "podman.sock")), 1, "podman.sock")
	wantError(t, e.lodger(t, "system", "service", "tcp://127.0.0.1:2375"), 1, "only unix://")
	// A directory others may write to is refused.
	open := filepath.Join(e.home, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.lodger(t, "system", "service", filepath.Join(open, "api.sock")), 1, "writable by others")
}

// runTestcontainers runs testcontainers-go's suite of tests/tcgo (a
// module of its own, built by run.sh into LODGER_TEST_TCGO) against the
// service, with the tests run and environment given.
func runTestcontainers(t *testing.T, e *env, s *apiService, run string, env ...string) {
	t.Helper()
	bin := os.Getenv("LODGER_TEST_TCGO")
	if bin == "" {
		t.Fatal("LODGER_TEST_TCGO is not set: run the suite with tests/e2e/run.sh, which builds tests/tcgo")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.v", "-test.timeout", "4m", "-test.run", run)
	cmd.Dir = e.home
	// testcontainers takes a machine with /.dockerenv (CI runners that
	// are containers themselves, this one included) for a container
	// beside its daemon and dials the bridge network's gateway; lodger's
	// containers are published on the host, where the user is.
	cmd.Env = append(append(append([]string{}, e.vars...), "DOCKER_HOST=unix://"+s.sock, "LODGER_TEST_REGISTRY="+registry,
		"TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testcontainers-go against lodger: %v\n%s\nservice log:\n%s", err, out, s.log)
	}
	t.Logf("%s", out)
}

// TestAPITestcontainers runs testcontainers-go with Ryuk, its reaper,
// disabled: the suite's containers are terminated by the suite.
func TestAPITestcontainers(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	runTestcontainers(t, e, s, "TestContainerLifecycle", "TESTCONTAINERS_RYUK_DISABLED=true")
	if r := e.lodger(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("containers left after testcontainers terminated them: %q", r.stdout)
	}
}

// TestAPITestcontainersReaper runs testcontainers-go with its reaper: a
// container with the API socket bind-mounted, which the service must
// serve from inside a container; it removes what the suite left behind
// once the suite has gone. The reaper image is built here, through the
// API, from tests/tcgo/reaper (LODGER_TEST_REAPER), under Ryuk's name.
func TestAPITestcontainersReaper(t *testing.T) {
	reaper := os.Getenv("LODGER_TEST_REAPER")
	if reaper == "" {
		t.Fatal("LODGER_TEST_REAPER is not set: run the suite with tests/e2e/run.sh, which builds tests/tcgo/reaper")
	}
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	dir := filepath.Join(e.home, "reaperctx")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(reaper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reaper"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+busybox+"\nCOPY reaper /reaper\nENTRYPOINT [\"/reaper\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.lodger(t, "build", "-q", "--tls-verify=false", "-t", "testcontainers/ryuk:0.14.0", dir))
	runTestcontainers(t, e, s, "TestContainerLifecycle|TestLeftBehind", "TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT=2s")
	// The suite left one container behind; the reaper removes it and
	// goes itself (auto-removed).
	var left string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if left = strings.TrimSpace(e.lodger(t, "ps", "-a", "--format", "{{.Names}} {{.Image}}").stdout); left == "" {
			return
		}
	}
	t.Errorf("containers left 60 s after the suite ended with the reaper on: %q\nservice log:\n%s", left, s.log)
}

func TestAPIDockerBuild(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	dir := filepath.Join(e.home, "ctx")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	df := "FROM " + busybox + "\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n"
	for name, content := range map[string]string{"Dockerfile": df, "greeting.txt": "built through the API\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The classic builder's protocol: what docker speaks without BuildKit.
	r := call{env: e, bin: dockerBin(t), extra: []string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_BUILDKIT=0",
		"DOCKER_CONFIG=" + filepath.Join(e.home, ".docker")}}.run(t, "build", "-t", "apibuilt:1", dir)
	wantCode(t, r, 0) // stderr has the CLI's own notice that the classic builder is deprecated
	if !strings.Contains(r.stdout, "Step 3/4 : RUN cat /greeting.txt > /built.txt") || !strings.Contains(r.stdout, "Successfully tagged apibuilt:1") {
		t.Errorf("docker build output:\n%s", r.stdout)
	}
	wantStdout(t, s.docker(t, "run", "--rm", "apibuilt:1"), "built through the API\n")
	// lodger sees the image the API built.
	if r := e.lodger(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(r.stdout, "apibuilt:1") {
		t.Errorf("lodger images = %q; want apibuilt:1", r.stdout)
	}
}

func TestAPINetworks(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	// Docker's clients expect the predefined networks.
	wantStdout(t, s.docker(t, "network", "ls", "--format", "{{.Name}} {{.Driver}}"), "bridge bridge\nhost host\nnone null\n")
	r := s.docker(t, "network", "create", "--subnet", "10.77.0.0/24", "--label", "k=v", "apinet")
	wantOK(t, r)
	// The CLI sees the network the API made, and the other way round.
	wantStdout(t, e.lodger(t, "network", "inspect", "--format", "{{.Name}} {{(index .IPAM.Config 0).Subnet}}", "apinet"), "apinet 10.77.0.0/24\n")
	wantOK(t, e.lodger(t, "network", "create", "clinet"))
	wantStdout(t, s.docker(t, "network", "inspect", "--format", "{{.Name}} {{.Labels.k}}", "apinet"), "apinet v\n")
	if r := s.docker(t, "network", "ls", "--filter", "name=clinet", "--format", "{{.Name}}"); r.stdout != "clinet\n" {
		t.Errorf("docker network ls --filter name=clinet = %q", r.stdout)
	}
	wantDockerError(t, s.docker(t, "network", "create", "apinet"), 1, "apinet")
	wantDockerError(t, s.docker(t, "network", "rm", "bridge"), 1, "pre-defined")
	wantDockerError(t, s.docker(t, "run", "--rm", "--network", "nosuchnet", busybox, "true"), 125, "nosuchnet")
	// Containers on a user network through the API reach each other by
	// alias, kernel to kernel.
	wantOK(t, s.docker(t, "run", "-d", "--name", "srv", "--network", "apinet", "--network-alias", "web", busybox,
		"sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"))
	r = s.docker(t, "run", "--rm", "--network", "apinet", busybox, "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ && exit 0; sleep 0.3; done; exit 1")
	wantCode(t, r, 0)
	wantStdout(t, r, "served\n")
	if r := s.docker(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "srv"); !strings.Contains(r.stdout, "apinet") {
		t.Errorf("docker inspect srv networks = %q; want apinet", r.stdout)
	}
	// A network with a container on it is not removed: 409 in Docker's words.
	wantDockerError(t, s.docker(t, "network", "rm", "apinet"), 1, "apinet")
	wantOK(t, s.docker(t, "rm", "-f", "srv"))
	wantOK(t, s.docker(t, "network", "rm", "apinet"))
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); strings.Contains(r.stdout, "apinet") {
		t.Errorf("lodger network ls after docker network rm: %q", r.stdout)
	}
	wantOK(t, s.docker(t, "network", "prune", "-f"))
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); strings.Contains(r.stdout, "clinet") {
		t.Errorf("lodger network ls after docker network prune: %q", r.stdout)
	}
}

// TestAPIConcurrentClients has many clients create, start and remove
// containers at once: every request answers, and nothing is left behind.
func TestAPIConcurrentClients(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			name := fmt.Sprintf("many%d", i)
			body := `{"Image": "` + busybox + `", "Cmd": ["sh", "-c", "echo ` + name + `"]}`
			if code, b := s.raw(t, "POST", "/v1.44/containers/create?name="+name, body); code != 201 {
				errs <- fmt.Errorf("create %s = %d %s", name, code, b)
				return
			}
			if code, b := s.raw(t, "POST", "/v1.44/containers/"+name+"/start", ""); code != 204 {
				errs <- fmt.Errorf("start %s = %d %s", name, code, b)
				return
			}
			if code, b := s.raw(t, "POST", "/v1.44/containers/"+name+"/wait", ""); code != 200 || !strings.Contains(b, `"StatusCode":0`) {
				errs <- fmt.Errorf("wait %s = %d %s", name, code, b)
				return
			}
			if code, b := s.raw(t, "GET", "/v1.44/containers/"+name+"/logs?stdout=1", ""); code != 200 || !strings.Contains(b, name) {
				errs <- fmt.Errorf("logs %s = %d %q", name, code, b)
				return
			}
			if code, b := s.raw(t, "DELETE", "/v1.44/containers/"+name, ""); code != 204 {
				errs <- fmt.Errorf("delete %s = %d %s", name, code, b)
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if r := e.lodger(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("containers left after %d clients created and removed theirs: %q", n, r.stdout)
	}
}

// TestAPISocketActivation starts the service as systemd's socket units
// do (systemd-socket-activate: LISTEN_FDS and LISTEN_PID, the socket as fd
// 3): it serves that socket through the session's re-exec, and the
// monitors of the containers it starts inherit neither the socket nor the
// variables.
func TestAPISocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Fatal("systemd-socket-activate not found (Debian's systemd package): socket activation cannot be tested")
	}
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	sock := filepath.Join(e.runtime, "act.sock")
	// systemd-socket-activate hands the service only the variables it is
	// told to, as a unit's Environment= does.
	args := []string{"-l", sock}
	for _, v := range e.vars {
		args = append(args, "-E", v)
	}
	cmd := exec.Command(activate, append(args, lodgerBin, "system", "service", "--time", "0", "--tls-verify=false")...)
	cmd.Env = append([]string{}, e.vars...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate did not listen:\n%s", log.String())
		}
	}
	s := &apiService{e: e, sock: sock, log: &log}
	wantStdout(t, s.docker(t, "version", "--format", "{{.Server.APIVersion}}"), "1.56\n")
	wantOK(t, s.docker(t, "run", "-d", "--name", "activated", busybox, "sleep", "300"))
	pid := strings.TrimSpace(e.lodger(t, "inspect", "--format", "{{.Lodger.MonitorPid}}", "activated").stdout)
	env, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "LISTEN_FDS") || strings.Contains(string(env), "LISTEN_PID") {
		t.Errorf("the monitor (pid %s) inherited socket activation's variables", pid)
	}
	wantOK(t, s.docker(t, "rm", "-f", "activated"))
}

// TestAPICompose drives a two-service project with docker compose v5
// (built by run.sh into LODGER_TEST_COMPOSE from github.com/docker/compose/v5):
// up -d on the project's default network, the client reaching the server
// by its service name, ps, logs, exec, down -v.
func TestAPICompose(t *testing.T) {
	bin := os.Getenv("LODGER_TEST_COMPOSE")
	if bin == "" {
		t.Fatal("LODGER_TEST_COMPOSE is not set: run the suite with tests/e2e/run.sh, which builds docker compose")
	}
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	dir := filepath.Join(e.home, "proj")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	project := `services:
  web:
    image: ` + busybox + `
    command: ["sh", "-c", "mkdir -p /www && echo from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumes:
      - data:/data
  client:
    image: ` + busybox + `
    depends_on: [web]
    command: ["sh", "-c", "until wget -qO- http://web:8080/; do sleep 0.3; done; exec sleep 300"]
volumes:
  data:
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(project), 0o600); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		t.Helper()
		return call{env: e, bin: bin, extra: []string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_CONFIG=" + filepath.Join(e.home, ".docker")}}.
			run(t, append([]string{"--project-directory", dir, "-p", "proj"}, args...)...)
	}
	wantCode(t, compose("up", "-d"), 0)
	if r := compose("ps", "--format", "{{.Service}} {{.State}}"); !strings.Contains(r.stdout, "web running") || !strings.Contains(r.stdout, "client running") {
		t.Errorf("compose ps = %q %q", r.stdout, r.stderr)
	}
	// The client found the server by its service name on the project's
	// network.
	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if logs = compose("logs", "client").stdout; strings.Contains(logs, "from-web") {
			break
		}
	}
	if !strings.Contains(logs, "from-web") {
		t.Errorf("compose logs client = %q; want from-web", logs)
	}
	wantStdout(t, compose("exec", "-T", "web", "cat", "/www/index.html"), "from-web\n")
	// The CLI sees the project's containers.
	if r := e.lodger(t, "ps", "--format", "{{.Names}}"); !strings.Contains(r.stdout, "proj-web-1") {
		t.Errorf("lodger ps = %q; want proj-web-1", r.stdout)
	}
	wantCode(t, compose("down", "-v"), 0)
	if r := e.lodger(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("containers after compose down: %q", r.stdout)
	}
	if r := e.lodger(t, "volume", "ls", "-q"); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("volumes after compose down -v: %q", r.stdout)
	}
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); strings.Contains(r.stdout, "proj_default") {
		t.Errorf("networks after compose down: %q", r.stdout)
	}
}

// TestAPIUpdate changes a running container's restart policy through the
// socket with Docker's CLI, as `lodger update` does; a limit with no
// cgroup to write it to is refused with the reason, and a bad policy is
// refused too.
func TestAPIUpdate(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	wantOK(t, s.docker(t, "run", "-d", "--name", "upd", busybox, "sleep", "300"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "upd") })
	wantOK(t, s.docker(t, "update", "--restart", "on-failure:3", "upd"))
	wantStdout(t, e.lodger(t, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "upd"), "on-failure 3\n")
	wantDockerError(t, s.docker(t, "update", "--memory", "64m", "upd"), 1, "resource limits cannot be applied")
	if r := s.docker(t, "update", "--restart", "bogus", "upd"); r.code == 0 || !strings.Contains(r.stderr, "bogus") {
		t.Errorf("%s\nwant the policy refused", r)
	}
}
