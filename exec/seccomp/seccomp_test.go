package seccomp

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var defaultCaps = []string{"CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"}

func TestDefaultCompiles(t *testing.T) {
	p, err := Default(defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) == 0 || len(f)%8 != 0 {
		t.Fatalf("filter of %d bytes, want a non-empty array of 8-byte instructions", len(f))
	}
	// The same profile again is the same program, without assembling it.
	again, err := Compile(p)
	if err != nil || !bytes.Equal(f, again) {
		t.Errorf("second Compile = %d bytes, %v; want the first program", len(again), err)
	}
	// An equal profile that is another value is compiled afresh, and the
	// assembly is deterministic.
	q, _ := Default(defaultCaps)
	other, err := Compile(q)
	if err != nil || !bytes.Equal(f, other) {
		t.Errorf("an equal profile compiled to a different program (%v)", err)
	}
}

func TestCompileRejects(t *testing.T) {
	for name, p := range map[string]*specs.LinuxSeccomp{
		"unknown default action": {DefaultAction: "SCMP_ACT_BOGUS"},
		"unknown rule action": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"},
		}},
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// run evaluates filter for one system call, as the kernel would.
func run(t *testing.T, filter []byte, nr int, args ...uint64) uint32 {
	t.Helper()
	var raw []bpf.RawInstruction
	for i := 0; i+8 <= len(filter); i += 8 {
		raw = append(raw, bpf.RawInstruction{
			Op: binary.LittleEndian.Uint16(filter[i:]), Jt: filter[i+2], Jf: filter[i+3],
			K: binary.LittleEndian.Uint32(filter[i+4:]),
		})
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	// struct seccomp_data; the VM loads words big-endian, the kernel in
	// native order, so each 32-bit word is stored big-endian.
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], unix.AUDIT_ARCH_X86_64)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[16+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

// TestDefaultSocketFamilies: Docker's profile allows socket() per address
// family in separate rules; each must hold (ip(8) needs AF_NETLINK).
func TestDefaultSocketFamilies(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the evaluation below builds x86-64 seccomp data")
	}
	p, err := Default(defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		family uint64
		want   uint32
	}{
		{unix.AF_UNIX, unix.SECCOMP_RET_ALLOW},
		{unix.AF_INET, unix.SECCOMP_RET_ALLOW},
		{unix.AF_INET6, unix.SECCOMP_RET_ALLOW},
		{unix.AF_NETLINK, unix.SECCOMP_RET_ALLOW},
		{unix.AF_PACKET, unix.SECCOMP_RET_ALLOW},
		{unix.AF_VSOCK, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	} {
		if got := run(t, f, unix.SYS_SOCKET, tc.family, unix.SOCK_RAW, 0); got != tc.want {
			t.Errorf("socket(%d): filter returns %#x, want %#x", tc.family, got, tc.want)
		}
	}
}

func TestConnectNotify(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the evaluation builds x86-64 seccomp data")
	}
	f, err := ConnectNotify()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		nr   int
		want uint32
	}{
		{"connect", unix.SYS_CONNECT, unix.SECCOMP_RET_USER_NOTIF},
		{"socket", unix.SYS_SOCKET, unix.SECCOMP_RET_ALLOW},
		{"sendto", unix.SYS_SENDTO, unix.SECCOMP_RET_ALLOW},
		// x32's connect: the stack's path.
		{"x32 connect", unix.SYS_CONNECT | 0x40000000, unix.SECCOMP_RET_ALLOW},
	} {
		if got := run(t, f, tc.nr); got != tc.want {
			t.Errorf("%s: filter returns %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestNotifyAccept(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the evaluation builds x86-64 seccomp data")
	}
	for _, calls := range [][]string{{"accept", "accept4"}, {"connect", "accept", "accept4"}} {
		f, err := Notify(calls...)
		if err != nil {
			t.Fatal(err)
		}
		trapped := map[int]bool{}
		for _, c := range calls {
			trapped[map[string]int{"connect": unix.SYS_CONNECT, "accept": unix.SYS_ACCEPT, "accept4": unix.SYS_ACCEPT4}[c]] = true
		}
		for _, nr := range []int{unix.SYS_CONNECT, unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_SOCKET, unix.SYS_LISTEN, unix.SYS_ACCEPT4 | 0x40000000} {
			want := uint32(unix.SECCOMP_RET_ALLOW)
			if trapped[nr] {
				want = unix.SECCOMP_RET_USER_NOTIF
			}
			if got := run(t, f, nr); got != want {
				t.Errorf("%v: call %d: filter returns %#x, want %#x", calls, nr, got, want)
			}
		}
	}
}
