package exec

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/exec/seccomp"
)

type decodedOp struct {
	Code byte
	Args []string
}

// decode is the Go mirror of next_op in nsinit.c.
func decode(t *testing.T, b []byte) []decodedOp {
	t.Helper()
	var ops []decodedOp
	u32 := func() int {
		if len(b) < 4 {
			t.Fatalf("truncated program")
		}
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		return n
	}
	for len(b) > 0 {
		op := decodedOp{Code: b[0]}
		b = b[1:]
		for n := u32(); n > 0; n-- {
			l := u32()
			op.Args = append(op.Args, string(b[:l]))
			b = b[l:]
		}
		ops = append(ops, op)
	}
	return ops
}

func TestProgramEncoding(t *testing.T) {
	var p program
	p.op(opHostname, "box")
	p.mount("proc", "/r/proc", "proc", 6, "", fallbackNone)
	p.exec("/bin/sh", []string{"sh", "-c", "echo ü"}, []string{"A=1"})
	got := decode(t, p.Bytes())
	want := []decodedOp{
		{opHostname, []string{"box"}},
		{opMount, []string{"proc", "/r/proc", "proc", "6", "", ""}},
		{opExec, []string{"/bin/sh", "3", "sh", "-c", "echo ü", "A=1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("program (-want +got):\n%s", diff)
	}
}

// rootfs makes a tiny image tree: /bin/tool (0755), /bin/data (0644),
// /bin/dir, /usr/bin/link -> /bin/tool, /escape -> ../../.. .
func rootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin/dir", "usr/bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin/tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/tool", filepath.Join(root, "usr/bin/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../..", filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLookExec(t *testing.T) {
	root := rootfs(t)
	env := []string{"PATH=/usr/bin:/bin"}
	tests := []struct {
		name     string
		wantPath string
		wantCode int
	}{
		{"tool", "/bin/tool", 0},
		{"link", "/usr/bin/link", 0},
		{"/bin/tool", "/bin/tool", 0},
		{"nosuch", "", ExitNotFound},
		{"/bin/nosuch", "", ExitNotFound},
		{"data", "", ExitCannotExec},
		{"/bin/data", "", ExitCannotExec},
		{"/bin/dir", "", ExitCannotExec},
		// A host binary reached through a symlink out of the image must
		// not be found: resolution stays inside the rootfs.
		{"/escape/bin/sh", "", ExitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, code, err := lookExec(root, nil, tt.name, env, specs.User{})
			if path != tt.wantPath || code != tt.wantCode || (err != nil) != (tt.wantCode != 0) {
				t.Errorf("lookExec(%q) = %q, %d, %v; want %q, %d", tt.name, path, code, err, tt.wantPath, tt.wantCode)
			}
		})
	}
	// A non-root user needs the "other" execute bit on a root-owned file.
	if err := os.Chmod(filepath.Join(root, "bin/tool"), 0o744); err != nil {
		t.Fatal(err)
	}
	if _, code, _ := lookExec(root, nil, "tool", env, specs.User{UID: 4242, GID: 4242}); code != ExitCannotExec {
		t.Errorf("lookExec as uid 4242 of a 0744 file: code %d, want %d", code, ExitCannotExec)
	}
}

// TestLookExecInMounts: a command bind-mounted into the container (a
// directory of tools, or the file itself) is found where the container
// will see it, and resolution stays inside the mount's source.
func TestLookExecInMounts(t *testing.T) {
	root := rootfs(t)
	tools := t.TempDir()
	if err := os.WriteFile(filepath.Join(tools, "mytool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../bin/sh", filepath.Join(tools, "out")); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(t.TempDir(), "single")
	if err := os.WriteFile(single, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mounts := []specs.Mount{
		{Destination: "/opt/tools", Type: "bind", Source: tools},
		{Destination: "/usr/local/bin/single", Type: "bind", Source: single},
		{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs"},
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	for _, tt := range []struct {
		name     string
		wantPath string
		wantCode int
	}{
		{"/opt/tools/mytool", "/opt/tools/mytool", 0},
		{"single", "/usr/local/bin/single", 0},
		{"tool", "/bin/tool", 0},
		{"/opt/tools/nosuch", "", ExitNotFound},
		{"/opt/tools/out", "", ExitNotFound},
		{"/scratch/x", "", ExitNotFound},
	} {
		path, code, err := lookExec(root, mounts, tt.name, env, specs.User{})
		if path != tt.wantPath || code != tt.wantCode || (err != nil) != (tt.wantCode != 0) {
			t.Errorf("lookExec(%q) = %q, %d, %v; want %q, %d", tt.name, path, code, err, tt.wantPath, tt.wantCode)
		}
	}
}

func TestCompile(t *testing.T) {
	root := rootfs(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Root:     &specs.Root{Path: root},
		Hostname: "box",
		Process: &specs.Process{
			Args: []string{"tool", "arg"},
			Env:  []string{"PATH=/bin"},
			Cwd:  "/work/dir",
			User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{50}},
		},
		Mounts: []specs.Mount{{Destination: "/escape/etc/hosts", Type: "bind", Source: hosts, Options: []string{"bind", "ro"}}},
		Linux:  &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}}},
	}
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	profile, err := seccomp.Default(caps)
	if err != nil {
		t.Fatal(err)
	}
	spec.Linux.Seccomp = profile
	b, err := compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	ops := decode(t, b)
	if fi, err := os.Stat(filepath.Join(root, "work/dir")); err != nil || !fi.IsDir() {
		t.Errorf("working directory not created in the rootfs: %v", err)
	}
	// The bind destination goes through a symlink pointing out of the
	// image; it must land inside the rootfs, and the init resolves it
	// again inside the root at mount time.
	var sawBind, sawLo bool
	for _, op := range ops {
		switch op.Code {
		case opMountIn:
			if op.Args[2] == hosts {
				sawBind = true
				if op.Args[0] != root || op.Args[1] != "/etc/hosts" {
					t.Errorf("bind mount at %q in %q, want /etc/hosts in %q", op.Args[1], op.Args[0], root)
				}
			}
		case opLoopback:
			sawLo = true
		}
	}
	if !sawBind || !sawLo {
		t.Errorf("program lacks the bind mount (%v) or loopback (%v)", sawBind, sawLo)
	}
	last := ops[len(ops)-1]
	if diff := cmp.Diff(decodedOp{opExec, []string{"/bin/tool", "2", "tool", "arg", "PATH=/bin"}}, last); diff != "" {
		t.Errorf("exec op (-want +got):\n%s", diff)
	}
	// The identity comes after the bounding set and seccomp: installing
	// a filter without no_new_privs takes CAP_SYS_ADMIN, which the user
	// no longer has once it is not root, and the bounding set must be
	// cut while the init may still drop from it. A non-root user ends
	// with no effective or permitted capabilities.
	at := map[byte]int{}
	for i, op := range ops {
		if _, seen := at[op.Code]; !seen {
			at[op.Code] = i
		}
	}
	for _, code := range []byte{opBounding, opSeccomp, opIdentity} {
		if _, ok := at[code]; !ok {
			t.Fatalf("no %c op in %v", code, ops)
		}
	}
	if !(at[opBounding] < at[opSeccomp] && at[opSeccomp] < at[opIdentity]) {
		t.Errorf("bounding set at op %d, seccomp at %d, identity at %d; want them in that order", at[opBounding], at[opSeccomp], at[opIdentity])
	}
	keep := uint64(1)<<unix.CAP_CHOWN | 1<<unix.CAP_KILL
	if diff := cmp.Diff([]string{strconv.FormatUint(keep, 10)}, ops[at[opBounding]].Args); diff != "" {
		t.Errorf("bounding set (-want +got):\n%s", diff)
	}
	filter, err := seccomp.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops[at[opSeccomp]].Args; len(got) != 1 || got[0] != string(filter) {
		t.Errorf("seccomp op is not the compiled default profile (%d args)", len(got))
	}
	if tail := ops[at[opIdentity]:]; len(tail) < 2 {
		t.Errorf("nothing after the identity op: %v", ops)
	} else if diff := cmp.Diff([]decodedOp{{opIdentity, []string{"1000", "1000", "50"}}, {opCapset, []string{"0", "0"}}}, tail[:2]); diff != "" {
		t.Errorf("identity and capability ops (-want +got):\n%s", diff)
	}

	for _, wd := range []string{"/proc/self/fd/4", "/proc", "/escape/proc/1/cwd"} {
		spec.Process.Cwd = wd
		_, err = compile(spec)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitLodger {
			t.Errorf("compile with working directory %s: %v, want a refusal (CVE-2024-21626)", wd, err)
		}
	}
	spec.Process.Cwd = "/"

	spec.Process.Args = []string{"nosuch"}
	_, err = compile(spec)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitNotFound {
		t.Errorf("compile with a missing command: %v, want exit %d", err, ExitNotFound)
	}
}

// With wait, the init makes its mounts first and then stops for the
// go-ahead, before anything that could see the network the start hooks
// give it: a sysctl of its interfaces, the identity, the command. With
// no sysctl it waits as late as it can, once its root is in place.
func TestCompileWait(t *testing.T) {
	root := rootfs(t)
	spec := &specs.Spec{
		Root:    &specs.Root{Path: root},
		Process: &specs.Process{Args: []string{"tool"}, Env: []string{"PATH=/bin"}, Cwd: "/"},
		Mounts:  []specs.Mount{{Destination: "/data", Type: "tmpfs", Source: "tmpfs"}},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
	for _, c := range []struct {
		name    string
		sysctls map[string]string
		wait    bool
		after   []byte // the wait comes after every one of these
		before  []byte // and before the first of these
	}{
		{"no wait", nil, false, nil, nil},
		{"sysctls", map[string]string{"net.ipv4.conf.eth0.forwarding": "1"}, true,
			[]byte{opMount, opMountIn, opFile, opDir, opSymlink}, []byte{opSysctl, opMask, opReadonly, opPivot, opIdentity, opExec}},
		{"no sysctls", nil, true,
			[]byte{opMount, opMountIn, opFile, opDir, opSymlink, opMask, opReadonly, opPivot, opLoopback}, []byte{opTerminal, opConnectTrap, opBounding, opSeccomp, opIdentity, opExec}},
	} {
		spec.Linux.Sysctl = c.sysctls
		b, err := compileWith(spec, nil, c.wait)
		if err != nil {
			t.Fatal(err)
		}
		ops := decode(t, b)
		waitAt, waits := -1, 0
		for i, op := range ops {
			if op.Code == opWait {
				waitAt = i
				waits++
			}
		}
		if !c.wait {
			if waits != 0 {
				t.Errorf("%s: %d wait ops", c.name, waits)
			}
			continue
		}
		if waits != 1 {
			t.Errorf("%s: %d wait ops, want one", c.name, waits)
			continue
		}
		for i, op := range ops {
			if i < waitAt && slices.Contains(c.before, op.Code) {
				t.Errorf("%s: op %c at %d comes before the wait at %d", c.name, op.Code, i, waitAt)
			}
			if i > waitAt && slices.Contains(c.after, op.Code) {
				t.Errorf("%s: op %c at %d comes after the wait at %d", c.name, op.Code, i, waitAt)
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\nstaff:x:50:alice\naudio:x:29:alice\nalice:x:1000:\n")
	tests := []struct {
		spec string
		want ResolvedUser
	}{
		{"", ResolvedUser{User: specs.User{UID: 0, GID: 0, Username: ""}, Home: "/root"}},
		{"alice", ResolvedUser{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{50, 29}, Username: "alice"}, Home: "/home/alice"}},
		// An explicit group replaces the groups from /etc/group, as in
		// runc and Docker.
		{"alice:staff", ResolvedUser{User: specs.User{UID: 1000, GID: 50, Username: "alice"}, Home: "/home/alice"}},
		{"1000:29", ResolvedUser{User: specs.User{UID: 1000, GID: 29, Username: "1000"}, Home: "/home/alice"}},
		{"4242", ResolvedUser{User: specs.User{UID: 4242, GID: 0, Username: "4242"}, Home: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ResolveUser(root, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if tt.spec == "" {
				tt.want.User.Username = "0"
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResolveUser(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
	if _, err := ResolveUser(root, "mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: %v, want ErrUnknownUser", err)
	}
}

// An image whose /etc/passwd is a symlink to a host file, a FIFO or
// /dev/zero must neither read the host's file nor hang
// (CVE-2024-9676-style attacks).
func TestResolveUserHostile(t *testing.T) {
	cases := map[string]func(t *testing.T, passwd string){
		"symlink to host file": func(t *testing.T, passwd string) {
			if err := os.Symlink("/etc/passwd", passwd); err != nil {
				t.Fatal(err)
			}
		},
		"fifo": func(t *testing.T, passwd string) {
			if err := unix.Mkfifo(passwd, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"symlink to /dev/zero": func(t *testing.T, passwd string) {
			if err := os.Symlink("/dev/zero", passwd); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			plant(t, filepath.Join(root, "etc/passwd"))
			done := make(chan error, 1)
			go func() {
				// "root" exists in every host's /etc/passwd: resolving it
				// by name must fail when the image's file is unusable.
				_, err := ResolveUser(root, "root")
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("resolved a user from a hostile /etc/passwd")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ResolveUser hangs")
			}
		})
	}
}
