// Command planter is the second local user of the end-to-end tests: the
// attacker of issue 12, finding 2, who creates the victim's run directory
// under /tmp before the victim does. tests/e2e/run.sh, as root, runs it as
// the user lodgertest2 for the length of the test run; the tests, as
// lodgertest, ask it over a unix socket (LODGER_TEST_PLANTER) to make
// directories, files and symbolic links there, to list them (so that a test
// can see nothing was written into them) and to remove them afterwards.
//
// It also dials the victim's Engine API socket, as the local attacker of
// issue 15 would.
//
// One JSON request per connection, one JSON reply. It writes only under
// /tmp/lodger-run-* and /tmp/lodger-planted-*, and exits when the
// process given by -parent is gone.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Request is what a test asks for.
type Request struct {
	Op      string `json:"op"` // whoami, mkdir, write, symlink, list, remove, dial, dialpacket, listen
	Path    string `json:"path,omitempty"`
	Target  string `json:"target,omitempty"`  // symlink
	Content string `json:"content,omitempty"` // write
	Mode    uint32 `json:"mode,omitempty"`    // mkdir, write: the mode it ends with
}

// Reply is the answer; Error is empty on success.
type Reply struct {
	Error   string   `json:"error,omitempty"`
	UID     int      `json:"uid"`
	Entries []string `json:"entries,omitempty"` // list: relative paths, sorted by the walk; dial: the answer's status line
}

func main() {
	sock := flag.String("socket", "", "unix socket to listen on")
	parent := flag.Int("parent", 0, "exit when this process is gone")
	flag.Parse()
	if *sock == "" {
		log.Fatal("planter: -socket is required")
	}
	_ = os.Remove(*sock)
	l, err := net.Listen("unix", *sock)
	if err != nil {
		log.Fatal(err)
	}
	// The victim must be able to connect.
	if err := os.Chmod(*sock, 0o666); err != nil {
		log.Fatal(err)
	}
	if *parent > 0 {
		go func() {
			for {
				// EPERM: alive, and someone else's (root's run.sh).
				if err := syscall.Kill(*parent, 0); errors.Is(err, syscall.ESRCH) {
					_ = os.Remove(*sock)
					os.Exit(0)
				}
				time.Sleep(time.Second)
			}
		}()
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req Request
	rep := Reply{UID: os.Getuid()}
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		rep.Error = err.Error()
	} else if err := do(req, &rep); err != nil {
		rep.Error = err.Error()
	}
	_ = json.NewEncoder(c).Encode(rep)
}

// allowed keeps the planter to the names the tests plant.
func allowed(p string) error {
	if p != filepath.Clean(p) {
		return fmt.Errorf("path %q is not clean", p)
	}
	for _, prefix := range []string{"/tmp/lodger-run-", "/tmp/lodger-planted-"} {
		if strings.HasPrefix(p, prefix) && len(p) > len(prefix) {
			return nil
		}
	}
	return fmt.Errorf("path %q is outside /tmp/lodger-run-* and /tmp/lodger-planted-*", p)
}

func do(req Request, rep *Reply) error {
	if req.Op == "whoami" {
		return nil
	}
	if req.Op == "dial" {
		return dial(req.Path, rep)
	}
	if req.Op == "dialpacket" {
		return dialPacket(req.Path, rep)
	}
	if req.Op == "listen" {
		return listen(req.Path, rep)
	}
	if err := allowed(req.Path); err != nil {
		return err
	}
	switch req.Op {
	case "mkdir":
		if err := os.Mkdir(req.Path, 0o700); err != nil {
			return err
		}
		return os.Chmod(req.Path, fs.FileMode(req.Mode&0o777)|sticky(req.Mode))
	case "write":
		if err := os.WriteFile(req.Path, []byte(req.Content), 0o600); err != nil {
			return err
		}
		return os.Chmod(req.Path, fs.FileMode(req.Mode&0o777))
	case "symlink":
		return os.Symlink(req.Target, req.Path)
	case "list":
		return filepath.WalkDir(req.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != req.Path {
				rel, _ := filepath.Rel(req.Path, p)
				rep.Entries = append(rep.Entries, rel)
			}
			return nil
		})
	case "remove":
		err := os.RemoveAll(req.Path)
		if errors.Is(err, fs.ErrPermission) {
			// The victim's files in the planter's directory: the planter
			// may still unlink them, once it may write where they are.
			_ = filepath.WalkDir(req.Path, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					_ = os.Chmod(p, 0o700)
				}
				return nil
			})
			err = os.RemoveAll(req.Path)
		}
		return err
	}
	return fmt.Errorf("unknown op %q", req.Op)
}

func sticky(mode uint32) fs.FileMode {
	if mode&0o1000 != 0 {
		return fs.ModeSticky
	}
	return 0
}

// dial connects to the victim's Engine API socket (issue 15) as this user
// and asks for /_ping. It writes nothing, so any path may be tried.
// listen connects to the stream socket at path and, sending nothing,
// reports what the server sends within 3 s: io.EOF when it closes.
func listen(path string, rep *Reply) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, 4096))
	if len(b) > 0 {
		rep.Entries = []string{string(b)}
	}
	if err == nil && len(b) < 4096 {
		err = io.EOF // the server closed
	}
	return err
}

// dialPacket connects to the SOCK_SEQPACKET socket at path, sends one
// packet and reports what comes back: io.EOF when the server closes.
func dialPacket(path string, rep *Reply) error {
	c, err := net.DialTimeout("unixpacket", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(make([]byte, 64)); err != nil {
		return err
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if n > 0 {
		rep.Entries = []string{string(b[:n])}
	}
	return err
}

func dial(path string, rep *Reply) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /_ping HTTP/1.0\r\nHost: lodger\r\n\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "" {
		rep.Entries = []string{strings.TrimSpace(line)}
	}
	return err
}
