//go:build e2e

// Package tcgo drives lodger's Engine API socket with testcontainers-go,
// a client that is not lodger's, as a Go test suite would. It is a module
// of its own so that lodger's binary never links testcontainers.
//
// Run by tests/e2e/run.sh as the test user, with DOCKER_HOST pointing at
// a lodger system service and LODGER_TEST_REGISTRY the test registry.
package tcgo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

func image(t testing.TB, name string) string {
	t.Helper()
	reg := os.Getenv("LODGER_TEST_REGISTRY")
	if reg == "" {
		t.Fatal("LODGER_TEST_REGISTRY is not set")
	}
	return reg + "/lodger-test/" + name
}

// TestContainerLifecycle starts a container that serves HTTP with
// busybox's httpd, waits for its port and a log line, execs in it, copies
// a file in, reads its logs, stops and removes it.
func TestContainerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req := testcontainers.ContainerRequest{
		Image:        image(t, "busybox:latest"),
		Cmd:          []string{"sh", "-c", "mkdir -p /www && echo hello-tc > /www/index.html && echo server ready && exec httpd -f -p 8080 -h /www"},
		ExposedPorts: []string{"8080/tcp"},
		Labels:       map[string]string{"suite": "tcgo"},
		WaitingFor: wait.ForAll(
			wait.ForLog("server ready"),
			wait.ForListeningPort("8080/tcp"),
		).WithDeadline(60 * time.Second),
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		t.Fatalf("start container: %v", err)
	}
	defer func() {
		if err := c.Terminate(context.Background()); err != nil {
			t.Errorf("terminate: %v", err)
		}
	}()
	host, err := c.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port, err := c.MappedPort(ctx, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + net.JoinHostPort(host, port.Port()) + "/")
	if err != nil {
		t.Fatalf("GET the published port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello-tc\n" {
		t.Errorf("GET / = %q; want hello-tc", body)
	}

	code, out, err := c.Exec(ctx, []string{"sh", "-c", "echo from-exec; exit 7"})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	b, _ := io.ReadAll(out)
	if code != 7 || !bytes.Contains(b, []byte("from-exec")) {
		t.Errorf("exec = %d %q; want 7 and from-exec", code, b)
	}

	if err := c.CopyToContainer(ctx, []byte("copied\n"), "/tmp/copied.txt", 0o644); err != nil {
		t.Fatalf("copy to container: %v", err)
	}
	rc, err := c.CopyFileFromContainer(ctx, "/tmp/copied.txt")
	if err != nil {
		t.Fatalf("copy from container: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "copied\n" {
		t.Errorf("copied file = %q", got)
	}

	logs, err := c.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(logs)
	logs.Close()
	if !strings.Contains(string(lb), "server ready") {
		t.Errorf("logs = %q; want server ready", lb)
	}

	stop := 2 * time.Second
	if err := c.Stop(ctx, &stop); err != nil {
		t.Fatalf("stop: %v", err)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running {
		t.Errorf("running after stop")
	}
}

// TestLeftBehind starts a container and does not terminate it: with the
// reaper enabled, the reaper removes it once this process has gone. The
// e2e test that runs this suite checks that it did.
func TestLeftBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req := testcontainers.ContainerRequest{
		Image:      image(t, "busybox:latest"),
		Cmd:        []string{"sleep", "300"},
		Labels:     map[string]string{"suite": "tcgo-left-behind"},
		WaitingFor: wait.ForExec([]string{"true"}),
	}
	if _, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true}); err != nil {
		t.Fatalf("start container: %v", err)
	}
}

var initTrue = true

// BenchmarkCycle is testcontainers-go's commonest cycle, timed for
// bench/api.sh: start a container that serves a port, wait until the
// port answers (testcontainers' ForListeningPort, which also looks inside
// the container), stop and remove it. Each cycle's seconds go to stdout
// as a line "cycle SECONDS"; run it with -test.bench BenchmarkCycle
// -test.benchtime Nx. The container runs with an init (Docker's --init),
// so that the stop measures the runtime, not a stop timeout.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	req := testcontainers.ContainerRequest{
		Image:        image(b, "busybox:latest"),
		Cmd:          []string{"httpd", "-f", "-p", "8080", "-h", "/"},
		ExposedPorts: []string{"8080/tcp"},
		WaitingFor:   wait.ForListeningPort("8080/tcp").WithStartupTimeout(60 * time.Second),
		// An init as pid 1 passes the stop signal on to httpd, which
		// has no handler of its own and, as pid 1, would ignore it.
		HostConfigModifier: func(hc *container.HostConfig) { hc.Init = &initTrue },
	}
	for range b.N {
		start := time.Now()
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
		if err != nil {
			b.Fatalf("start container: %v", err)
		}
		if err := c.Terminate(ctx); err != nil {
			b.Fatalf("terminate: %v", err)
		}
		fmt.Printf("cycle %.6f\n", time.Since(start).Seconds())
	}
}

// TestNetworkAliasesAndBuild builds an image from a Dockerfile (with a
// build argument), starts it and a server on a network of their own, the
// server under two aliases, and reaches the server by both from the
// built container; Files copies a file in before the start.
func TestNetworkAliasesAndBuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nw, err := network.New(ctx)
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	defer func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network: %v", err)
		}
	}()
	srv, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image:          image(t, "busybox:latest"),
		Cmd:            []string{"sh", "-c", "mkdir -p /www && echo from-backend > /www/index.html && exec httpd -f -p 80 -h /www"},
		Networks:       []string{nw.Name},
		NetworkAliases: map[string][]string{nw.Name: {"backend", "api"}},
		ExposedPorts:   []string{"80/tcp"},
		WaitingFor:     wait.ForListeningPort("80/tcp").WithStartupTimeout(60 * time.Second),
	}})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	defer func() { _ = srv.Terminate(context.Background(), testcontainers.StopTimeout(time.Second)) }()

	dir := t.TempDir()
	df := "FROM " + image(t, "busybox:latest") + "\nARG GREETING=hi\nRUN echo \"$GREETING from the Dockerfile\" > /greeting\nCMD [\"sh\", \"-c\", \"cat /greeting; exec sleep 300\"]\n"
	if err := os.WriteFile(dir+"/Dockerfile", []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	greeting := "hello"
	cli, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{Context: dir, BuildArgs: map[string]*string{"GREETING": &greeting}},
		Networks:       []string{nw.Name},
		Files:          []testcontainers.ContainerFile{{Reader: strings.NewReader("file-in\n"), ContainerFilePath: "/tmp/in.txt", FileMode: 0o644}},
		WaitingFor:     wait.ForLog("hello from the Dockerfile"),
	}})
	if err != nil {
		t.Fatalf("build and start: %v", err)
	}
	defer func() {
		if err := cli.Terminate(context.Background(), testcontainers.StopTimeout(time.Second)); err != nil {
			t.Errorf("terminate: %v", err)
		}
	}()
	for _, name := range []string{"backend", "api"} {
		code, out, err := cli.Exec(ctx, []string{"wget", "-qO-", "http://" + name + "/"})
		if err != nil {
			t.Fatalf("exec wget %s: %v", name, err)
		}
		b, _ := io.ReadAll(out)
		if code != 0 || !bytes.Contains(b, []byte("from-backend")) {
			t.Errorf("wget http://%s/ = %d %q; want from-backend by the alias", name, code, b)
		}
	}
	_, out, err := cli.Exec(ctx, []string{"cat", "/tmp/in.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(out); !bytes.Contains(b, []byte("file-in")) {
		t.Errorf("the file given in Files: %q", b)
	}
	ip, err := srv.ContainerIP(ctx)
	if err != nil || net.ParseIP(ip) == nil {
		t.Errorf("server's IP on its network = %q, %v", ip, err)
	}
}
