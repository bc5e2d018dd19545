//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docker20Bin is Debian's docker.io client, Docker 20.10 (API 1.41):
// LODGER_TEST_DOCKER20, or /usr/bin/docker, which tests/setup-host.sh
// installs (never starting its daemon).
func docker20Bin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("LODGER_TEST_DOCKER20")
	if p == "" {
		p = "/usr/bin/docker"
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil || !strings.Contains(string(out), " 20.10.") {
		t.Fatalf("Docker 20.10's client not found at %s (%q, %v): install Debian's docker.io (tests/setup-host.sh) or set LODGER_TEST_DOCKER20", p, out, err)
	}
	return p
}

// dockerWith runs the docker client bin against the service, with env
// added.
func (s *apiService) dockerWith(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	extra := append([]string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_CONFIG=" + filepath.Join(s.e.home, ".docker")}, env...)
	return call{env: s.e, bin: bin, extra: extra}.run(t, args...)
}

// dfReclaimable is the RECLAIMABLE column of `system df` for typ.
func dfReclaimable(t *testing.T, r result, typ string) string {
	t.Helper()
	wantCode(t, r, 0)
	for _, l := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok && k == typ {
			return v
		}
	}
	t.Fatalf("system df has no %s line: %s", typ, r)
	return ""
}

// TestAPIDockerCLISweep drives the socket through the flows a user
// tries first, with Docker's current CLI and with Docker 20.10's (API
// 1.41), asserting what each prints:
//   - system df with one image in use and nothing else: nothing
//     reclaimable (0B), not a negative size or more than 100%, with
//     either client (20.10 reads VirtualSize);
//   - info's OperatingSystem is os-release's PRETTY_NAME;
//   - docker restart writes Docker's restart event;
//   - docker run -i closes the container's input at the end of its own
//     (StdinOnce); docker attach to a run -d -i container sends its
//     input (OpenStdin) and leaves the container's open when it ends;
//   - a log request with tail=-1 (testcontainers for node's) is all;
//   - images hides the intermediate images of a classic build, -a shows
//     them; names are Docker's short ones (sweep/x:1, not
//     docker.io/sweep/x:1), in images, rmi and image prune;
//   - system prune -f, with and without --filter label=..., and builder
//     prune -f succeed (the build cache was a 501) and the filter
//     keeps what it does not select;
//   - push names the repository without its tag and lists the image's
//     layers alone, not its configuration;
//   - Docker 20.10: version, run --rm, run -d -p, logs, exec's exit
//     code, inspect, a classic build;
//   - a running container renamed dies under its new name (the event);
//   - ps --filter exited=, network=, health=.
func TestAPIDockerCLISweep(t *testing.T) {
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	d20 := docker20Bin(t)
	wantOK(t, s.docker(t, "pull", "-q", busybox))
	wantOK(t, s.docker(t, "run", "-d", "--name", "r", busybox, "sh", "-c", "echo line; exec sleep 300"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "r") })

	// One image, in use: nothing of it is reclaimable.
	for _, bin := range []string{dockerBin(t), d20} {
		df := s.dockerWith(t, bin, nil, "system", "df", "--format", "{{.Type}}\t{{.Reclaimable}}")
		if got := dfReclaimable(t, df, "Images"); got != "0B (0%)" {
			t.Errorf("%s system df: Images reclaimable %q; want 0B (0%%) with the one image in use", bin, got)
		}
	}

	// info names the operating system as Docker's does: os-release's
	// PRETTY_NAME.
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if m := regexp.MustCompile(`(?m)^PRETTY_NAME="?([^"\n]*)"?$`).FindStringSubmatch(string(b)); m != nil {
			wantStdout(t, s.docker(t, "info", "--format", "{{.OperatingSystem}}"), m[1]+"\n")
		}
	}

	// restart: Docker's events, restart last.
	since := strconv.FormatInt(time.Now().Unix(), 10)
	wantOK(t, s.docker(t, "restart", "-t", "0", "r"))
	// The CLI sends whole seconds: until the next one holds all of them.
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	ev := s.docker(t, "events", "--since", since, "--until", until, "--filter", "container=r", "--format", "{{.Action}}")
	if got := strings.Fields(ev.stdout); len(got) == 0 || got[len(got)-1] != "restart" || !strings.Contains(ev.stdout, "start\n") {
		t.Errorf("events of docker restart: %q; want start then restart", ev.stdout)
	}
	// tail=-1 is all of the log: the line, once per start.
	code, body := s.raw(t, "GET", "/v1.44/containers/r/logs?stdout=1&tail=-1", "")
	if code != 200 || strings.Count(body, "line\n") != 2 {
		t.Errorf("logs?tail=-1 = %d %q; want 200 and the line twice", code, body)
	}

	// Input: docker run -i attached is StdinOnce, its input's end is
	// the container's; docker attach to a run -d -i container sends its
	// input (the CLI asks for stdin only when OpenStdin says -i), and
	// the container's stdin outlives the client.
	cmd := exec.Command(dockerBin(t), "run", "-i", "--rm", busybox, "sh", "-c", "cat; echo end")
	cmd.Env = append(append([]string{}, e.vars...), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+filepath.Join(e.home, ".docker"))
	cmd.Stdin = strings.NewReader("piped\n")
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "piped\nend\n" {
		t.Errorf("echo piped | docker run -i --rm cat = %q, %v; want piped and end (stdin closed at its end)", out, err)
	}
	wantOK(t, s.docker(t, "run", "-d", "-i", "--name", "in", busybox, "cat"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "in") })
	wantStdout(t, s.docker(t, "inspect", "-f", "{{.Config.OpenStdin}} {{.Config.StdinOnce}}", "in"), "true false\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	att := exec.CommandContext(ctx, dockerBin(t), "attach", "in")
	att.Env = cmd.Env
	att.Stdin = strings.NewReader("typed\n")
	if err := att.Start(); err != nil {
		t.Fatal(err)
	}
	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && logs != "typed\n"; time.Sleep(100 * time.Millisecond) {
		logs = s.docker(t, "logs", "in").stdout
	}
	cancel()
	_ = att.Wait()
	if logs != "typed\n" {
		t.Errorf("docker logs after echo typed | docker attach: %q; want typed", logs)
	}
	wantStdout(t, s.docker(t, "inspect", "-f", "{{.State.Status}}", "in"), "running\n")

	// A classic build: two RUN steps leave intermediate images.
	dir := filepath.Join(e.home, "sweepctx")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	df := "FROM " + busybox + "\nRUN echo a > /a\nRUN echo b > /b\nCMD [\"cat\", \"/a\", \"/b\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	// (stderr has the CLI's notice that the classic builder is deprecated)
	wantCode(t, s.dockerWith(t, dockerBin(t), []string{"DOCKER_BUILDKIT=0"}, "build", "-q", "-t", "sweep:1", dir), 0)
	wantOK(t, s.docker(t, "tag", busybox, "sweep/x:1"))
	tags := s.docker(t, "images", "--format", "{{.Repository}}:{{.Tag}}")
	for _, want := range []string{"sweep:1\n", "sweep/x:1\n", busybox + "\n"} {
		if !strings.Contains(tags.stdout, want) {
			t.Errorf("docker images = %q; want %q in it", tags.stdout, want)
		}
	}
	if strings.Contains(tags.stdout, "<none>") || strings.Contains(tags.stdout, "docker.io/") {
		t.Errorf("docker images = %q; want no intermediate images and Docker's short names", tags.stdout)
	}
	top := strings.Fields(s.docker(t, "images", "-q").stdout)
	all := strings.Fields(s.docker(t, "images", "-aq").stdout)
	if len(all) < len(top)+2 {
		t.Errorf("images -a lists %d, images %d; want the build's 2 intermediate images with -a", len(all), len(top))
	}
	wantStdout(t, s.docker(t, "rmi", "sweep/x:1"), "Untagged: sweep/x:1\n")

	// Prunes: a label filter keeps what it does not select, the build
	// cache is pruned too, and nothing fails.
	wantOK(t, s.docker(t, "run", "--name", "gone", "--label", "prune=yes", busybox, "true"))
	wantOK(t, s.docker(t, "run", "--name", "kept", busybox, "true"))
	r := s.docker(t, "system", "prune", "-f", "--filter", "label=prune=yes")
	wantOK(t, r)
	if names := s.docker(t, "ps", "-a", "--format", "{{.Names}}").stdout; strings.Contains(names, "gone") || !strings.Contains(names, "kept") {
		t.Errorf("after system prune --filter label=prune=yes: %q; want gone removed, kept kept", names)
	}
	wantCode(t, s.docker(t, "builder", "prune", "-f"), 0) // the same notice
	r = s.docker(t, "system", "prune", "-af")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "untagged: sweep:1") || strings.Contains(r.stdout, "docker.io/") {
		t.Errorf("system prune -af:\n%s\nwant untagged: sweep:1, in Docker's short names", r.stdout)
	}
	if names := s.docker(t, "ps", "-a", "--format", "{{.Names}}").stdout; names != "in\nr\n" && names != "r\nin\n" {
		t.Errorf("after system prune -af: %q; want the running in and r alone", names)
	}

	// Push: the repository without its tag, one line per layer.
	repo := fmt.Sprintf("%s/lodger-test/sweep-push-%d", registry, time.Now().UnixNano())
	wantOK(t, s.docker(t, "tag", busybox, repo+":1"))
	layers := strings.Count(s.docker(t, "inspect", "-f", "{{range .RootFS.Layers}}{{.}} {{end}}", busybox).stdout, "sha256:")
	r = s.docker(t, "push", repo+":1")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "The push refers to repository ["+repo+"]\n") {
		t.Errorf("docker push:\n%s\nwant The push refers to repository [%s]", r.stdout, repo)
	}
	done := regexp.MustCompile(`(?m)^[0-9a-f]{12}: (Pushed|Layer already exists)$`).FindAllString(r.stdout, -1)
	if layers == 0 || len(done) != layers {
		t.Errorf("docker push:\n%s\nwant %d layer lines (the image's layers, not its configuration)", r.stdout, layers)
	}

	// Docker 20.10, API 1.41.
	v := s.dockerWith(t, d20, nil, "version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}")
	if wantOK(t, v); !strings.HasPrefix(v.stdout, "1.41 1.") {
		t.Errorf("20.10 version = %s; want client 1.41 and the server's version", v)
	}
	wantStdout(t, s.dockerWith(t, d20, nil, "run", "--rm", busybox, "echo", "hello from 20.10"), "hello from 20.10\n")
	wantOK(t, s.dockerWith(t, d20, nil, "run", "-d", "--name", "old", "-p", "8080", busybox, "sh", "-c", "echo started; exec sleep 300"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "old") })
	if r := s.dockerWith(t, d20, nil, "port", "old", "8080"); !strings.Contains(r.stdout, "0.0.0.0:") {
		t.Errorf("20.10 port = %s; want a host port", r)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r := s.dockerWith(t, d20, nil, "logs", "old"); r.stdout == "started\n" || time.Now().After(deadline) {
			wantStdout(t, r, "started\n")
			break
		}
	}
	wantCode(t, s.dockerWith(t, d20, nil, "exec", "old", "sh", "-c", "exit 3"), 3)
	wantStdout(t, s.dockerWith(t, d20, nil, "inspect", "-f", "{{.State.Status}} {{.Name}}", "old"), "running /old\n")
	if r := s.dockerWith(t, d20, nil, "ps", "--format", "{{.Names}}"); !strings.Contains(r.stdout, "old\n") {
		t.Errorf("20.10 ps = %s", r)
	}
	// 20.10 builds with the classic builder unless told otherwise.
	r = s.dockerWith(t, d20, nil, "build", "-t", "sweep20:1", dir)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "Successfully tagged sweep20:1") {
		t.Errorf("20.10 build:\n%s", r.stdout)
	}
	wantStdout(t, s.dockerWith(t, d20, nil, "run", "--rm", "sweep20:1"), "a\nb\n")

	// A running container renamed: its monitor's die event has the name
	// it has now, as Docker's.
	since = strconv.FormatInt(time.Now().Unix(), 10)
	wantOK(t, s.docker(t, "rename", "in", "renamed"))
	t.Cleanup(func() { s.docker(t, "rm", "-f", "renamed") })
	wantOK(t, s.docker(t, "kill", "renamed"))
	wantStdout(t, s.docker(t, "wait", "renamed"), "137\n")
	until = strconv.FormatInt(time.Now().Unix()+1, 10)
	id := strings.TrimSpace(s.docker(t, "inspect", "-f", "{{.Id}}", "renamed").stdout)
	ev = s.docker(t, "events", "--since", since, "--until", until, "--filter", "event=die", "--filter", "container="+id, "--format", "{{.Actor.Attributes.name}}")
	wantStdout(t, ev, "renamed\n")
	// ps's Docker filters beyond the first five: exited, network, health.
	wantStdout(t, s.docker(t, "ps", "--filter", "exited=137", "--format", "{{.Names}}"), "renamed\n")
	wantStdout(t, s.docker(t, "ps", "--filter", "network=bridge", "--filter", "health=none", "--filter", "name=^r$", "--format", "{{.Names}}"), "r\n")
	if r := s.docker(t, "ps", "--filter", "health=healthy", "--format", "{{.Names}}"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("ps --filter health=healthy = %s; want nothing (no health checks here)", r)
	}
}

// TestAPITestcontainersNode runs testcontainers for node (npm's
// testcontainers 11, installed by run.sh from tests/tcnode's lock file)
// against the socket: wait strategies for a log line and a port, exec,
// copying files in and an archive out, logs, a network with aliases, a
// FromDockerfile build, restart and stop, with its reaper (Ryuk, the test
// reaper built under Ryuk's name), which removes the container the
// script leaves behind once it has gone.
func TestAPITestcontainersNode(t *testing.T) {
	dir := os.Getenv("LODGER_TEST_TCNODE")
	if dir == "" {
		t.Fatal("LODGER_TEST_TCNODE is not set: run the suite with tests/e2e/run.sh, which installs tests/tcnode")
	}
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	buildReaper(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "tc.mjs"))
	cmd.Dir = dir
	// As for testcontainers-go: on a machine with /.dockerenv it would
	// dial the bridge's gateway; lodger publishes on the host.
	cmd.Env = append(append([]string{}, e.vars...), "DOCKER_HOST=unix://"+s.sock, "LODGER_TEST_REGISTRY="+registry,
		"TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ALL OK") {
		t.Fatalf("testcontainers for node against lodger: %v\n%s\nservice log:\n%s", err, out, s.log)
	}
	var left string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if left = strings.TrimSpace(e.lodger(t, "ps", "-a", "--format", "{{.Names}} {{.Labels}}").stdout); left == "" {
			break
		}
	}
	if left != "" {
		t.Errorf("containers left 60 s after the script ended with the reaper on: %q\n%s", left, out)
	}
	if r := e.lodger(t, "network", "ls", "--format", "{{.Name}}"); strings.Count(r.stdout, "\n") > 3 {
		t.Errorf("networks after the script: %q; want the network it made removed", r.stdout)
	}
}
