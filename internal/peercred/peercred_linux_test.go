package peercred

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serve listens on a socket in a directory anyone may enter, the socket
// open to anyone, and answers "hello" to every connection l accepts.
func serve(t *testing.T) (path string, refused <-chan error) {
	t.Helper()
	// Not t.TempDir: its parent is closed to others.
	dir, err := os.MkdirTemp("", "peercred")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 4)
	l := Listener{Listener: ln, Refused: func(err error) { ch <- err }}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello")
			c.Close()
		}
	}()
	return path, ch
}

// read connects to path and returns what the server says.
func read(path string) (string, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestSameUserServed(t *testing.T) {
	path, refused := serve(t)
	got, err := read(path)
	if err != nil || got != "hello" {
		t.Fatalf("the user's own connection got %q, %v; want hello", got, err)
	}
	select {
	case err := <-refused:
		t.Fatalf("the user's own connection was refused: %v", err)
	default:
	}
}

// TestOtherUserRefused connects as another user (nobody) through the
// open socket: it must be closed unanswered. A thread of this process
// takes the other user's ids (a raw setresuid changes that thread only),
// connects, and ends with them: only root can switch so.
func TestOtherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as another user; the suite runs it as root too")
	}
	path, refused := serve(t)
	const nobody = 65534
	type result struct {
		got string
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends as nobody
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, nobody, nobody, nobody); e != 0 {
			done <- result{err: e}
			return
		}
		got, err := read(path)
		done <- result{got, err}
	}()
	r := <-done
	if r.got != "" {
		t.Errorf("another user's connection got %q, want nothing", r.got)
	}
	if r.err != nil && !errors.Is(r.err, unix.ECONNRESET) {
		t.Fatalf("another user's connection: %v", r.err)
	}
	select {
	case err := <-refused:
		if !errors.Is(err, ErrOtherUser) {
			t.Errorf("refused with %v, want ErrOtherUser", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("another user's connection was not reported refused")
	}
	// The user is still served.
	if got, err := read(path); err != nil || got != "hello" {
		t.Fatalf("after a refusal the user's own connection got %q, %v", got, err)
	}
}
