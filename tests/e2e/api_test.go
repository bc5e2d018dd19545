//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
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
	return startServiceAt(t, e, filepath.Join(e.runtime, "lodger", "lodger.sock"), args...)
}

// startServiceAt starts the service on sock (args must name it when it is
// not the default) and waits until it answers.
func startServiceAt(t *testing.T, e *env, sock string, args ...string) *apiService {
	t.Helper()
	s := &apiService{e: e, sock: sock, log: &strings.Builder{}}
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
	// No keep-alive: a connection left idle in a dropped client's pool
	// would count as one of the service's fds.
	c := http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
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
	// The stream starts at the journal's end: a marker container is
	// created until the stream shows it, so that the run below comes
	// after the stream is open, however slow the machine.
	for i, open := 1, false; !open; i++ {
		if i > 60 {
			t.Fatal("docker events showed none of 60 marker containers' create")
		}
		name := fmt.Sprintf("marker%d", i)
		wantCode(t, e.lodger(t, "create", "-q", noTLS, "--name", name, busybox, "true"), 0)
		wait := time.After(time.Second)
		for waiting := true; waiting && !open; {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("events ended before it showed anything")
				}
				open = l == "create "+name
			case <-wait:
				waiting = false
			}
		}
		wantCode(t, e.lodger(t, "rm", name), 0)
	}
	// The CLI's run is seen by the API's live stream.
	wantOK(t, e.lodger(t, "run", "--rm", "-q", "--tls-verify=false", "--name", "evt", busybox, "true"))
	want := []string{"create evt", "start evt", "die evt", "destroy evt"}
	var got []string
	timeout := time.After(60 * time.Second)
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
		// A network it does not know: 404, as Docker's daemon answers.
		{"POST", "/v1.44/containers/create", `{"Image": "` + busybox + `", "HostConfig": {"NetworkMode": "nosuchnet"}}`, 404, "--network nosuchnet: no such network"},
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

// fdList shows what a process's fds are, for a failure's message.
func fdList(pid int) string {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), l)
	}
	return b.String()
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
	leave := func() (execID string) {
		for _, line := range streams {
			c, err := net.Dial("unix", s.sock)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "%s\r\nHost: lodger\r\n\r\n", line)
			buf := make([]byte, 512)
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("%s: nothing read: %v", line, err)
			}
			c.Close()
		}
		// An attached exec whose client leaves while it writes; it ends
		// by itself a moment later.
		code, b := s.raw(t, "POST", "/v1.44/containers/"+id+"/exec", `{"AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo x; sleep 0.1; done"]}`)
		var ex struct{ Id string }
		if err := json.Unmarshal([]byte(b), &ex); code != 201 || err != nil || ex.Id == "" {
			t.Fatalf("exec create = %d %s", code, b)
		}
		c, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		start := `{"Detach": false, "Tty": false}`
		fmt.Fprintf(c, "POST /v1.44/exec/%s/start HTTP/1.1\r\nHost: lodger\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %d\r\n\r\n%s", ex.Id, len(start), start)
		buf := make([]byte, 512)
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("exec start: nothing read: %v", err)
		}
		c.Close()
		return ex.Id
	}
	// The baseline is taken once the first exec has ended (its fds are
	// not the server's), however long the machine takes to run it.
	first := leave()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, b := s.raw(t, "GET", "/v1.44/exec/"+first+"/json", "")
		var st struct{ ExitCode *int }
		if err := json.Unmarshal([]byte(b), &st); code != 200 || err != nil {
			t.Fatalf("exec inspect = %d %s", code, b)
		}
		if st.ExitCode != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first exec still runs after 60 s: %s", b)
		}
	}
	before := openFDs(t, pid)
	for range 5 {
		leave()
	}
	var after int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if after = openFDs(t, pid); after <= before {
			break
		}
	}
	if after > before {
		t.Errorf("the service holds %d fds after 25 clients left mid-stream; %d before:\n%s", after, before, fdList(pid))
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

// apiServers lists the pids of pid's children that are lodger's API
// server, lodger-transfer (not the session keeper, which the first
// command of a session leaves as its child).
func apiServers(t *testing.T, pid int) []string {
	t.Helper()
	var out []string
	for _, k := range children(t, pid) {
		if comm, _ := os.ReadFile("/proc/" + k + "/comm"); strings.TrimSpace(string(comm)) == "lodger-transfer" {
			out = append(out, k)
		}
	}
	return out
}

// children lists the pids of pid's children.
func children(t *testing.T, pid int) []string {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no /proc/%d/task/*/children: %v", pid, err)
	}
	var out []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// TestAPIServiceIdleKeepsOnlyTheSocket: a service that never exits
// (--time 0), idle, is lodger-socket alone, in the same process, holding
// the socket; the next client gets a whole service again.
func TestAPIServiceIdleKeepsOnlyTheSocket(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	pid := s.cmd.Process.Pid
	wantStdout(t, s.docker(t, "version", "--format", "{{.Server.APIVersion}}"), "1.56\n")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			t.Fatalf("the service (pid %d) is gone: %v\n%s", pid, err, s.log)
		}
		kids := apiServers(t, pid)
		if strings.TrimSpace(string(comm)) == "lodger-socket" && len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var cmdlines []string
			for _, k := range kids {
				b, _ := os.ReadFile("/proc/" + k + "/cmdline")
				cmdlines = append(cmdlines, strings.ReplaceAll(string(b), "\x00", " "))
			}
			t.Fatalf("the idle service (pid %d) is %q with children %q, not lodger-socket alone\n%s", pid, comm, cmdlines, s.log)
		}
	}
	if _, err := os.Stat(s.sock); err != nil {
		t.Fatalf("the idle service's socket: %v", err)
	}
	wantStdout(t, s.docker(t, "version", "--format", "{{.Server.APIVersion}}"), "1.56\n")
	if kids := apiServers(t, pid); len(kids) != 1 {
		t.Errorf("after a request the service has children %v; want the one server", kids)
	}
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
	case <-time.After(60 * time.Second):
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
// disabled: the suite's containers are terminated by the suite. Its
// second test builds FromDockerfile and reaches a server on a network of
// its own by two aliases.
func TestAPITestcontainers(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	runTestcontainers(t, e, s, "TestContainerLifecycle|TestNetworkAliasesAndBuild", "TESTCONTAINERS_RYUK_DISABLED=true")
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
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	buildReaper(t, e)
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

// buildReaper builds the test reaper (LODGER_TEST_REAPER, from
// tests/tcgo/reaper) under Ryuk's name, which testcontainers for Go and
// for node both start.
func buildReaper(t *testing.T, e *env) {
	t.Helper()
	reaper := os.Getenv("LODGER_TEST_REAPER")
	if reaper == "" {
		t.Fatal("LODGER_TEST_REAPER is not set: run the suite with tests/e2e/run.sh, which builds tests/tcgo/reaper")
	}
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
	// Endpoints on the default bridge and a user network (Docker's CLI
	// refuses to send them; the API takes them) put the container on
	// both, as Docker's daemon does.
	both := `{"Image": "` + busybox + `", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "bridge"}, "NetworkingConfig": {"EndpointsConfig": {"bridge": {}, "apinet": {}}}}`
	if code, b := s.raw(t, "POST", "/v1.44/containers/create?name=both", both); code != 201 {
		t.Fatalf("create on bridge and apinet = %d %s; want 201", code, b)
	}
	wantOK(t, s.docker(t, "start", "both"))
	wantStdout(t, s.docker(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "both"), "apinet bridge \n")
	wantOK(t, s.docker(t, "rm", "-f", "both"))
	// Containers on a user network through the API reach each other by
	// alias, kernel to kernel.
	wantOK(t, s.docker(t, "run", "-d", "--name", "srv", "--network", "apinet", "--network-alias", "web", busybox,
		"sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"))
	// srv's httpd listens a moment after its run returns: tried for up to
	// about 60 s, which matters only on a loaded machine.
	r = s.docker(t, "run", "--rm", "--network", "apinet", busybox, "sh", "-c",
		"i=0; until wget -qO- http://web:8080/; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.3; done")
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
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
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
	// Two services on a network of the project's, the client started
	// once the server's healthcheck passes, reaching it by service name
	// and by an alias.
	project := `services:
  web:
    image: ` + busybox + `
    command: ["sh", "-c", "mkdir -p /www && echo from-web > /www/index.html && touch /ready && exec httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      timeout: 5s
      retries: 30
    stop_grace_period: 1s
    volumes:
      - data:/data
    networks:
      back:
        aliases: [www]
  client:
    image: ` + busybox + `
    depends_on:
      web:
        condition: service_healthy
    command: ["sh", "-c", "wget -qO- http://web:8080/ && wget -qO- http://www:8080/ && exec sleep 300"]
    stop_grace_period: 1s
    networks: [back]
volumes:
  data:
networks:
  back: {}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(project), 0o600); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		t.Helper()
		return call{env: e, bin: bin, extra: []string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_CONFIG=" + filepath.Join(e.home, ".docker")}}.
			run(t, append([]string{"--project-directory", dir, "-p", "proj"}, args...)...)
	}
	r := compose("up", "-d")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "proj-web-1 Healthy") {
		t.Errorf("compose up -d: %s; want it to wait for web's healthcheck (Healthy)", r)
	}
	if r := compose("ps", "--format", "{{.Service}} {{.State}} {{.Health}}"); !strings.Contains(r.stdout, "web running healthy") || !strings.Contains(r.stdout, "client running") {
		t.Errorf("compose ps = %q %q", r.stdout, r.stderr)
	}
	// The client found the server by its service name on the project's
	// network.
	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if logs = compose("logs", "client").stdout; strings.Count(logs, "from-web") == 2 {
			break
		}
	}
	if strings.Count(logs, "from-web") != 2 {
		t.Errorf("compose logs client = %q; want from-web twice, by service name and by alias", logs)
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
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); strings.Contains(r.stdout, "proj_") {
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

// TestAPIDockerCommit makes an image of a running container's changes
// with Docker's CLI through the socket (pausing it meanwhile, as docker
// commit does by default): the image runs with the --change command and
// carries the message and author; lodger sees it, and the container runs
// on, unpaused.
func TestAPIDockerCommit(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	wantOK(t, s.docker(t, "run", "-d", "--name", "src", busybox, "sh", "-c", "echo made-in-src > /made; exec sleep 300"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "src") })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r := s.docker(t, "exec", "src", "cat", "/made"); r.stdout == "made-in-src\n" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the container did not write /made: %s", r)
		}
	}
	r := s.docker(t, "commit", "-m", "from the API", "-a", "Jane Doe", "-c", `CMD ["cat", "/made"]`, "-c", "ENV FROM_COMMIT=1", "src", "committed:1")
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "sha256:") {
		t.Errorf("docker commit printed %q; want the image's sha256: ID", r.stdout)
	}
	id := strings.TrimSpace(r.stdout)
	wantStdout(t, s.docker(t, "run", "--rm", "committed:1"), "made-in-src\n")
	wantStdout(t, s.docker(t, "run", "--rm", "committed:1", "sh", "-c", "echo $FROM_COMMIT"), "1\n")
	wantStdout(t, s.docker(t, "image", "inspect", "--format", "{{.ID}} {{.Author}}", "committed:1"), id+" Jane Doe\n")
	if r := s.docker(t, "history", "--format", "{{.Comment}}", "committed:1"); !strings.HasPrefix(r.stdout, "from the API\n") {
		t.Errorf("docker history comments = %q; want the commit's message first", r.stdout)
	}
	if r := e.lodger(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(r.stdout, "committed:1") {
		t.Errorf("lodger images = %q; want committed:1", r.stdout)
	}
	wantStdout(t, s.docker(t, "inspect", "--format", "{{.State.Status}}", "src"), "running\n")
	// Without a name the image has none, as Docker's.
	r = s.docker(t, "commit", "--pause=false", "src")
	wantOK(t, r)
	if r := s.docker(t, "image", "inspect", "--format", "{{len .RepoTags}}", strings.TrimSpace(r.stdout)); r.stdout != "0\n" {
		t.Errorf("an unnamed commit has %q tags; want 0 (%s)", r.stdout, r.stderr)
	}
	wantDockerError(t, s.docker(t, "commit", "nosuchcontainer", "x:1"), 1, "nosuchcontainer")
	if code, b := s.raw(t, "POST", "/v1.44/commit?container=src&repo=Bad+Name", ""); code != 400 || !strings.Contains(b, "Bad Name") {
		t.Errorf("commit with a malformed repo = %d %s; want 400 naming it", code, b)
	}
}

// TestAPIPullPushProgress reads a pull's and a push's JSON progress as
// Docker's clients do: per layer (its short digest as id) Docker's status
// words, and byte counts that reach the layer's size.
func TestAPIPullPushProgress(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	type msg struct {
		Status   string `json:"status"`
		ID       string `json:"id"`
		Progress string `json:"progress"`
		Detail   *struct {
			Current int64 `json:"current"`
			Total   int64 `json:"total"`
		} `json:"progressDetail"`
		Error *struct{ Message string } `json:"errorDetail"`
	}
	read := func(body string) (map[string][]msg, []string) {
		t.Helper()
		per := map[string][]msg{}
		var statuses []string
		for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
			var m msg
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("progress line %q: %v", l, err)
			}
			if m.Error != nil {
				t.Fatalf("the stream ended with an error: %s", m.Error.Message)
			}
			if m.Status != "" {
				statuses = append(statuses, m.Status)
			}
			if m.Detail != nil {
				per[m.ID] = append(per[m.ID], m)
			}
		}
		return per, statuses
	}
	// checkLayers: every layer went through words (in order, each once
	// at least) with byte counts rising to a total.
	checkLayers := func(what string, per map[string][]msg, words []string, bytesWord string) {
		t.Helper()
		if len(per) == 0 {
			t.Fatalf("%s: no per-layer progress", what)
		}
		for id, ms := range per {
			if len(id) != 12 {
				t.Errorf("%s: layer id %q; want 12 hex digits of its digest", what, id)
			}
			var seen []string
			var last, total int64
			for _, m := range ms {
				if len(seen) == 0 || seen[len(seen)-1] != m.Status {
					seen = append(seen, m.Status)
				}
				if m.Status == bytesWord {
					// A push from storage compresses as it goes: the
					// total is known at the end.
					if m.Detail.Current < last || m.Progress == "" {
						t.Errorf("%s: %s %+v %q; want counts rising and Docker's bar", what, id, *m.Detail, m.Progress)
					}
					last, total = m.Detail.Current, m.Detail.Total
				}
			}
			if strings.Join(seen, ",") != strings.Join(words, ",") {
				t.Errorf("%s: layer %s went through %q; want %q", what, id, seen, words)
			}
			if last == 0 || last != total {
				t.Errorf("%s: layer %s's bytes ended at %d of %d", what, id, last, total)
			}
		}
	}
	code, body := s.raw(t, "POST", "/v1.44/images/create?fromImage="+url.QueryEscape(busybox), "")
	if code != 200 {
		t.Fatalf("pull = %d %s", code, body)
	}
	per, statuses := read(body)
	checkLayers("pull", per, []string{"Pulling fs layer", "Downloading", "Download complete", "Pull complete"}, "Downloading")
	if !slices.Contains(statuses, "Status: Downloaded newer image for "+busybox) {
		t.Errorf("pull statuses %q; want Docker's last one", statuses)
	}
	// The Digest line is the manifest's, which pins the image by name.
	digest := strings.TrimSpace(e.lodger(t, "images", "--digests", "--format", "{{.Digest}}").stdout)
	if !strings.HasPrefix(digest, "sha256:") || !slices.Contains(statuses, "Digest: "+digest) {
		t.Errorf("pull statuses %q; want Digest: %s (the manifest's digest)", statuses, digest)
	}
	// Again: every layer is there already.
	_, body = s.raw(t, "POST", "/v1.44/images/create?fromImage="+url.QueryEscape(busybox), "")
	per, _ = read(body)
	for id, ms := range per {
		if len(ms) != 1 || ms[0].Status != "Already exists" {
			t.Errorf("second pull: layer %s: %+v; want Already exists alone", id, ms)
		}
	}
	// A push of a new image: its own layer is pushed with byte counts,
	// the base's may exist already in the registry.
	wantOK(t, s.docker(t, "run", "--name", "pp", busybox, "sh", "-c", "head -c 300000 /dev/urandom > /blob"))
	target := fmt.Sprintf("%s/lodger-test/progress-%d:1", registry, time.Now().UnixNano())
	wantOK(t, s.docker(t, "commit", "pp", target))
	name := strings.TrimSuffix(target, ":1")
	code, body = s.raw(t, "POST", "/v1.44/images/"+name+"/push?tag=1", "")
	if code != 200 {
		t.Fatalf("push = %d %s", code, body)
	}
	per, statuses = read(body)
	pushed := map[string][]msg{}
	for id, ms := range per {
		if ms[len(ms)-1].Status == "Pushed" {
			pushed[id] = ms
		}
	}
	checkLayers("push", pushed, []string{"Preparing", "Pushing", "Pushed"}, "Pushing")
	if len(statuses) == 0 || !strings.HasPrefix(statuses[len(statuses)-1], "1: digest: sha256:") {
		t.Errorf("push statuses %q; want Docker's digest line last", statuses)
	}
	// Docker's CLI shows the same push, a status line per layer.
	if r := s.docker(t, "push", target); !strings.Contains(r.stdout, ": Layer already exists") {
		t.Errorf("docker push again: %s; want Layer already exists", r)
	}
}

// TestAPIPruneFilters prunes with Docker's filters through the socket:
// label, label! and until select which stopped containers, volumes,
// networks and images go; an unknown filter is refused with Docker's 400.
func TestAPIPruneFilters(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	for _, c := range [][]string{{"--label", "keep=yes", "--name", "kept"}, {"--label", "tier=a", "--name", "tiera"}, {"--name", "plain"}} {
		wantOK(t, s.docker(t, append(append([]string{"create"}, c...), busybox, "true")...))
	}
	// until: all three are younger than an hour: none goes.
	if r := s.docker(t, "container", "prune", "-f", "--filter", "until=1h"); strings.Contains(r.stdout, "Deleted") {
		t.Errorf("container prune --filter until=1h removed young containers: %s", r)
	}
	wantOK(t, s.docker(t, "container", "prune", "-f", "--filter", "label=tier=a"))
	wantStdout(t, e.lodger(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "name=tiera"), "")
	wantOK(t, s.docker(t, "container", "prune", "-f", "--filter", "label!=keep"))
	wantStdout(t, e.lodger(t, "ps", "-a", "--format", "{{.Names}}"), "kept\n")
	// until in the future takes what is left.
	wantOK(t, s.docker(t, "container", "prune", "-f", "--filter", fmt.Sprintf("until=%d", time.Now().Add(time.Minute).Unix())))
	wantStdout(t, e.lodger(t, "ps", "-aq"), "")
	// Volumes: label! keeps; the named ones go with all=true.
	wantOK(t, s.docker(t, "volume", "create", "--label", "keep", "v1"))
	wantOK(t, s.docker(t, "volume", "create", "v2"))
	wantOK(t, s.docker(t, "volume", "prune", "-a", "-f", "--filter", "label!=keep"))
	wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "v1\n")
	// Networks: by label.
	wantOK(t, s.docker(t, "network", "create", "--label", "keep", "n1"))
	wantOK(t, s.docker(t, "network", "create", "n2"))
	wantOK(t, s.docker(t, "network", "prune", "-f", "--filter", "label!=keep"))
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); !strings.Contains(r.stdout, "n1") || strings.Contains(r.stdout, "n2") {
		t.Errorf("networks after prune --filter label!=keep: %q; want n1 and not n2", r.stdout)
	}
	// Images: -a with a label filter takes only the labelled image.
	dir := filepath.Join(e.home, "lbl")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+busybox+"\nLABEL doomed=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.lodger(t, "build", "-q", noTLS, "-t", "doomed:1", dir))
	wantOK(t, s.docker(t, "image", "prune", "-a", "-f", "--filter", "label=doomed"))
	if r := e.lodger(t, "images", "--format", "{{.Repository}}"); strings.Contains(r.stdout, "doomed") || !strings.Contains(r.stdout, "busybox") {
		t.Errorf("images after prune -a --filter label=doomed: %q; want busybox alone", r.stdout)
	}
	// Docker's answer to a filter a prune does not take.
	for _, p := range []string{"/containers/prune", "/volumes/prune", "/networks/prune", "/images/prune"} {
		if code, b := s.raw(t, "POST", "/v1.44"+p+"?filters="+url.QueryEscape(`{"bogus":["1"]}`), ""); code != 400 || !strings.Contains(b, "invalid filter 'bogus'") {
			t.Errorf("POST %s with an unknown filter = %d %s; want 400 invalid filter 'bogus'", p, code, b)
		}
	}
	wantDockerError(t, s.docker(t, "container", "prune", "-f", "--filter", "until=yesterday"), 1, "until=yesterday")
}

// TestAPISocketAgainstAnotherUser is the second local user (lodgertest2,
// through tests/planter) attacking the service: it cannot connect to the
// socket even where it can reach the socket's directory (the socket is
// 0600), cannot connect at the default place (a 0700 directory), and a
// directory it made for the victim's socket is refused, with nothing
// written into it.
func TestAPISocketAgainstAnotherUser(t *testing.T) {
	p := needPlanter(t)
	if p.uid(t) == os.Getuid() {
		t.Fatal("the planter runs as the test user: it must be a second user")
	}
	e := isolatedEnv(t)
	// A directory the attacker may enter (0711) but not write, as a
	// user's own /tmp/... directory often is: only the socket's mode
	// stands between them.
	open := fmt.Sprintf("/tmp/lodger-planted-api-victim-%d", os.Getpid())
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o711); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(open, "api.sock")
	s := startServiceAt(t, e, sock, "--time", "0", sock)
	if code, _ := s.raw(t, "GET", "/_ping", ""); code != 200 {
		t.Fatalf("the owner's ping = %d", code)
	}
	rep, err := p.do(plantRequest{Op: "dial", Path: sock})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the other user dialled the socket in a reachable directory: %+v, %v; want permission denied", rep, err)
	}
	// The socket opened to others by mistake: the service itself
	// refuses another user (SO_PEERCRED), closing unanswered, and goes
	// on serving its user.
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	rep, err = p.do(plantRequest{Op: "dial", Path: sock})
	if !closedUnanswered(rep, err) {
		t.Errorf("the other user, through an open socket: %+v, %v; want the connection closed unanswered", rep, err)
	}
	if code, _ := s.raw(t, "GET", "/_ping", ""); code != 200 {
		t.Fatalf("the owner's ping after a refusal = %d", code)
	}
	// The default socket, in the 0700 run directory.
	d := startService(t, e, "--time", "0")
	if rep, err := p.do(plantRequest{Op: "dial", Path: d.sock}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the other user dialled the default socket: %+v, %v; want permission denied", rep, err)
	}
	// A directory the attacker made (and could swap the socket in) is
	// refused, however open it is, and stays empty.
	planted := fmt.Sprintf("/tmp/lodger-planted-api-%d", os.Getpid())
	p.mkdir(t, planted, 0o1777)
	t.Cleanup(func() { _, _ = p.do(plantRequest{Op: "remove", Path: planted}) })
	wantError(t, e.lodger(t, "system", "service", "--time", "1", filepath.Join(planted, "api.sock")), 1, "belongs to another user")
	if got := p.list(t, planted); len(got) != 0 {
		t.Errorf("the service wrote into the attacker's directory: %q", got)
	}
	// The owner still gets in at both.
	wantStdout(t, s.docker(t, "version", "--format", "{{.Server.APIVersion}}"), "1.56\n")
	wantStdout(t, d.docker(t, "version", "--format", "{{.Server.APIVersion}}"), "1.56\n")
}

// storageCounts reads the layers and containers containers/storage has
// recorded in e's graph root.
func storageCounts(t *testing.T, e *env) (layers, containers int) {
	t.Helper()
	count := func(pattern string) int {
		files, _ := filepath.Glob(filepath.Join(e.data, "lodger", "storage", pattern))
		if len(files) == 0 {
			return 0 // nothing recorded yet
		}
		if len(files) != 1 {
			t.Fatalf("storage records %s: %q; want one file", pattern, files)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", files[0], err)
		}
		return len(recs)
	}
	return count("*-layers/layers.json"), count("*-containers/containers.json")
}

// TestAPIServiceKilledMidCreate SIGKILLs the service while clients are
// creating containers (each on a user network, with an anonymous volume),
// at several moments of the requests: whatever was made is a container
// `lodger ps -a` lists, inspects and removes, and once those are removed
// (and the prunes have taken what a create cut short leaves unnamed: a
// container layer, an unused anonymous volume) nothing is left in
// storage, on the network or among the volumes.
func TestAPIServiceKilledMidCreate(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantOK(t, e.lodger(t, "network", "create", "killnet"))
	layers0, ctrs0 := storageCounts(t, e)
	body := `{"Image": "` + busybox + `", "Cmd": ["true"], "Volumes": {"/data": {}}, "HostConfig": {"NetworkMode": "killnet"}}`
	made := 0
	for round, delay := range []time.Duration{5 * time.Millisecond, 30 * time.Millisecond, 80 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		s := startService(t, e, "--time", "0")
		done := make(chan int, 8)
		for i := range 8 {
			go func() {
				c, err := net.Dial("unix", s.sock)
				if err != nil {
					done <- 0
					return
				}
				defer c.Close()
				fmt.Fprintf(c, "POST /v1.44/containers/create?name=k%d-%d HTTP/1.1\r\nHost: lodger\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", round, i, len(body), body)
				_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.Contains(line, " 201 ") {
					done <- 1
					return
				}
				done <- 0
			}()
		}
		time.Sleep(delay)
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Wait()
		for range 8 {
			made += <-done
		}
	}
	// Every container the creates left, whether their clients heard of it
	// or not, is one the CLI explains: listed, inspected, removed.
	names := strings.Fields(e.lodger(t, "ps", "-a", "--format", "{{.Names}}").stdout)
	if len(names) < made {
		t.Errorf("lodger ps -a lists %d containers; %d creates were answered 201", len(names), made)
	}
	t.Logf("%d containers left by the killed service (%d answered)", len(names), made)
	for _, n := range names {
		wantStdout(t, e.lodger(t, "inspect", "--format", "{{.Name}} {{.HostConfig.NetworkMode}}", n), "/"+n+" killnet\n")
		wantOK(t, e.lodger(t, "rm", "-v", n))
	}
	// A create killed between storage's layer and the container's record
	// leaves a layer no container names: container prune takes it.
	wantOK(t, e.lodger(t, "container", "prune", "-f"))
	layers, ctrs := storageCounts(t, e)
	if layers != layers0 || ctrs != ctrs0 {
		t.Errorf("storage after removing every container: %d layers, %d containers; %d and %d before the creates", layers, ctrs, layers0, ctrs0)
	}
	// An anonymous volume made just before the kill, whose container
	// never was, is one no container uses: volume prune takes it.
	wantOK(t, e.lodger(t, "volume", "prune", "-f"))
	wantStdout(t, e.lodger(t, "volume", "ls", "-q"), "")
	// No endpoint is left on the network (that of a create cut short goes
	// with its dead creator): it goes without force.
	wantOK(t, e.lodger(t, "network", "rm", "killnet"))
}

// TestAPIAttachWebsocket attaches to a running container over a
// websocket with a Go client (golang.org/x/net/websocket): what it sends
// is the container's stdin, what the container writes comes back raw, in
// binary messages, without the multiplexed stream's header.
func TestAPIAttachWebsocket(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	wantOK(t, s.docker(t, "run", "-d", "-i", "--name", "wsc", busybox, "sh", "-c", "while read l; do echo got-$l; echo err-$l >&2; done"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "wsc") })
	dial := func(path string) (*websocket.Conn, error) {
		cfg, err := websocket.NewConfig("ws://lodger"+path, "http://lodger")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := websocket.NewClient(cfg, c)
		if err != nil {
			c.Close()
			return nil, err
		}
		return ws, nil
	}
	ws, err := dial("/v1.44/containers/wsc/attach/ws?stream=1&stdin=1&stdout=1&stderr=1")
	if err != nil {
		t.Fatalf("websocket attach: %v\nservice log:\n%s", err, s.log)
	}
	if _, err := ws.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for !strings.Contains(string(got), "got-hello\n") || !strings.Contains(string(got), "err-hello\n") {
		buf := make([]byte, 4096)
		n, err := ws.Read(buf)
		if err != nil {
			t.Fatalf("read %q, then %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if strings.ContainsRune(string(got), 0) {
		t.Errorf("websocket output %q has the multiplexed stream's header; want the bytes raw", got)
	}
	ws.Close()
	// The container runs on after the client went.
	wantStdout(t, s.docker(t, "inspect", "--format", "{{.State.Status}}", "wsc"), "running\n")
	// Neither a stopped container nor a missing one is upgraded.
	wantOK(t, s.docker(t, "create", "--name", "idle", busybox, "true"))
	if code, b := s.raw(t, "GET", "/v1.44/containers/idle/attach/ws?stream=1&stdout=1", ""); code != 409 || !strings.Contains(b, "not running") {
		t.Errorf("websocket attach to a created container = %d %s; want 409 not running", code, b)
	}
	if code, _ := s.raw(t, "GET", "/v1.44/containers/nosuch/attach/ws?stream=1&stdout=1", ""); code != 404 {
		t.Errorf("websocket attach to a missing container = %d; want 404", code)
	}
}
