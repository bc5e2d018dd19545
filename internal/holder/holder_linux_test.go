package holder

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain is also the server the tests' holders start: it answers each
// connection with its pid and exits once idle, as lodger's service does.
func TestMain(m *testing.M) {
	switch os.Getenv("HOLDER_TEST_SERVER") {
	case "serve":
		os.Exit(testServer())
	case "fail":
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func testServer() int {
	if os.Getenv(ListenerEnv) != "3" {
		return 4
	}
	// fd 3 is the socket's one copy here.
	var st3 syscall.Stat_t
	if err := syscall.Fstat(3, &st3); err != nil {
		return 5
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		var st syscall.Stat_t
		if n, _ := strconv.Atoi(fd.Name()); n != 3 && syscall.Fstat(n, &st) == nil && st.Ino == st3.Ino && st.Dev == st3.Dev {
			return 6
		}
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return 5
	}
	ul := ln.(*net.UnixListener)
	for {
		_ = ul.SetDeadline(time.Now().Add(200 * time.Millisecond))
		c, err := ul.Accept()
		if err != nil {
			return 0 // idle
		}
		_, _ = c.Write([]byte(strconv.Itoa(os.Getpid()) + "\n"))
		c.Close()
	}
}

// hold starts Run on a new socket with a server in the given mode.
func hold(t *testing.T, mode string, idle time.Duration) (sock string, sigs chan os.Signal, done chan error) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	f, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	t.Cleanup(func() { f.Close() })
	// As lodger hands it over, through exec: not close-on-exec.
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	o := Options{Listener: f, Server: []string{os.Args[0]}, Idle: idle, ServerIdle: 200 * time.Millisecond, Remove: sock,
		Env: append(os.Environ(), "HOLDER_TEST_SERVER="+mode, ListenerEnv+"=3")}
	sigs, done = make(chan os.Signal, 1), make(chan error, 1)
	go func() { done <- Run(o, sigs) }()
	return sock, sigs, done
}

// greet connects and reads the pid of the server that answered.
func greet(t *testing.T, sock string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer on %s: %v", sock, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func TestRunStartsTheServerAgainAfterItsIdleExit(t *testing.T) {
	sock, sigs, done := hold(t, "serve", 0)
	first := greet(t, sock)
	for deadline := time.Now().Add(10 * time.Second); !gone(first); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server (pid %d) did not exit when idle", first)
		}
	}
	// The socket stayed: a client connecting now gets a new server.
	if second := greet(t, sock); second == first {
		t.Errorf("the same server (pid %d) answered after it exited", second)
	}
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after SIGTERM = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after SIGTERM")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is still there after the holder ended: %v", err)
	}
}

func TestRunIdleExit(t *testing.T) {
	sock, _, done := hold(t, "serve", 300*time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil on an idle exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run with Idle 300ms and no client did not return")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is still there after the idle exit: %v", err)
	}
}

func TestRunServerFailure(t *testing.T) {
	sock, _, done := hold(t, "fail", 0)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("Run = %v; want ErrServer with the server's exit status", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its server failed")
	}
}
