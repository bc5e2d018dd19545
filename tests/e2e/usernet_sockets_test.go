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
// planter), dialling the real sockets of a running network.
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
	for d := filepath.Dir(dir); d != "/tmp" && d != "/" && strings.HasPrefix(d, "/tmp/"); d = filepath.Dir(d) {
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
	for _, s := range socks {
		if rep, err := p.do(plantRequest{Op: "dial", Path: s}); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("the other user dialled %s: %+v, %v; want permission denied", s, rep, err)
		}
	}
}
