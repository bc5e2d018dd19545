//go:build e2e

package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserNetworkSocketsAgainstAnotherUser: a user network's gateway
// listens on two sockets in the network's run directory: attach.sock
// (a namespace handed over makes a veth in it) and udp.sock (a datagram
// sent from any address the header names). Another local user who can
// reach that directory's parents must still be refused both: the
// directory is the user's alone. The attacker is lodgertest2 (the
// planter), dialling the real sockets of a running network; then, with
// the directory and sockets opened to others as by a mistake, the
// gateway itself must refuse them.
func TestUserNetworkSocketsAgainstAnotherUser(t *testing.T) {
	p := needPlanter(t)
	if p.uid(t) == os.Getuid() {
		t.Fatal("the planter runs as the test user: it must be a second user")
	}
	e := isolatedEnv(t)
	netCreate(t, e, "sockets")
	udpPort := freePort(t, "udp", netip.IPv4Unspecified())
	runDetached(t, e, "srv", "--network", "sockets", "-p", fmt.Sprintf("%d:9090/udp", udpPort), netImage(), "nettool", "serve", "udp", "9090")
	waitHello(t, "udp", fmt.Sprintf("127.0.0.1:%d", udpPort))

	dir := filepath.Join(e.runtime, "lodger", "networks", "sockets")
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("the network's run directory %s has mode %v, want no access for others", dir, st.Mode().Perm())
	}
	socks := []string{filepath.Join(dir, "attach.sock"), filepath.Join(dir, "udp.sock")}
	for _, s := range socks {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatalf("the gateway's socket: %v", err)
		}
		// connect(2) needs write permission on the socket.
		if fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s has mode %v, want no write (connect) for others", s, fi.Mode().Perm())
		}
	}
	// Every directory above the network's made passable by others (as a
	// shared machine's /run/user or /tmp/... often is): only the network
	// directory's and the sockets' own modes stand between the attacker
	// and the sockets.
	openParents(t, dir)
	for _, s := range socks {
		if rep, err := p.do(plantRequest{Op: "dial", Path: s}); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("the other user dialled %s: %+v, %v; want permission denied", s, rep, err)
		}
	}

	// The modes opened by mistake: the gateway itself refuses another
	// user (the kernel's record of the peer, SO_PEERCRED), closing the
	// connection unanswered, and goes on serving its user.
	mode := st.Mode().Perm()
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, mode) })
	for _, s := range socks {
		if err := os.Chmod(s, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := p.do(plantRequest{Op: "dial", Path: socks[0]})
	if !closedUnanswered(rep, err) {
		t.Errorf("the other user, through an open attach socket: %+v, %v; want the connection closed unanswered", rep, err)
	}
	rep, err = p.do(plantRequest{Op: "dialpacket", Path: socks[1]})
	if !closedUnanswered(rep, err) {
		t.Errorf("the other user, through an open relay socket: %+v, %v; want the connection closed unanswered", rep, err)
	}
	r := e.runRm(t, "--network", "sockets", netImage(), "nettool", "dial", "udp", "srv:9090")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "hello") {
		t.Errorf("the user's own container after the refusals: %q, want a hello from srv", r.stdout)
	}
	waitHello(t, "udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
}

// TestAttachSocketAgainstAnotherUser: a container's monitor serves its
// attach socket (stdin in, output out, signals, resizes) in the user's
// run directory. With that directory and the socket opened to others as
// by a mistake, the monitor itself must refuse another user
// (SO_PEERCRED): no byte of the container's output reaches them, and
// the container runs on.
func TestAttachSocketAgainstAnotherUser(t *testing.T) {
	p := needPlanter(t)
	if p.uid(t) == os.Getuid() {
		t.Fatal("the planter runs as the test user: it must be a second user")
	}
	e := isolatedEnv(t)
	runDetached(t, e, "talker", ref("busybox:latest"), "sh", "-c", "while true; do echo tick; sleep 0.2; done")
	id := strings.TrimSpace(e.lodger(t, "inspect", "-f", "{{.Id}}", "talker").stdout)
	if len(id) < 16 {
		t.Fatalf("container ID %q", id)
	}
	sock := filepath.Join(e.runtime, "lodger", "attach", id[:16]+".sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the container's attach socket: %v", err)
	}
	openParents(t, sock)
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	// As an attach client: connect, send nothing, and read the output.
	rep, err := p.do(plantRequest{Op: "listen", Path: sock})
	if !closedUnanswered(rep, err) {
		t.Errorf("the other user, through an open attach socket: %+v, %v; want the connection closed unanswered", rep, err)
	}
	if r := e.lodger(t, "inspect", "-f", "{{.State.Running}}", "talker"); strings.TrimSpace(r.stdout) != "true" {
		t.Errorf("the container after the refusal: running %q", r.stdout)
	}
	if r := e.lodger(t, "logs", "--tail", "1", "talker"); !strings.Contains(r.stdout, "tick") {
		t.Errorf("the container's logs after the refusal: %q", r.stdout)
	}
}

// closedUnanswered says whether the planter's dial found its connection
// closed by the server without a byte of answer: EOF on its read, or,
// when the close came first, a broken pipe on its write or a reset.
func closedUnanswered(rep plantReply, err error) bool {
	if err == nil || len(rep.Entries) != 0 {
		return false
	}
	for _, s := range []string{"EOF", "broken pipe", "connection reset by peer"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// openParents makes every directory above path, up to /tmp, passable by
// others (as a shared machine's /run/user or /tmp/... often is), for the
// test's life.
func openParents(t *testing.T, path string) {
	t.Helper()
	for d := filepath.Dir(path); d != "/tmp" && d != "/" && strings.HasPrefix(d, "/tmp/"); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		mode := fi.Mode().Perm()
		if err := os.Chmod(d, mode|0o011); err != nil {
			t.Fatalf("open %s to others: %v", d, err)
		}
		t.Cleanup(func() { _ = os.Chmod(d, mode) })
	}
}
