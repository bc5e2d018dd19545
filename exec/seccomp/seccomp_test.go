package seccomp

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
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

// dockerCaps is Docker's default bounding set, which lodger gives a
// container (exec.DefaultCapabilities must match).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// TestDefaultRefuses evaluates the compiled default filter, as the kernel
// would, for the calls a container must not make: what mounts, makes or
// joins namespaces, reaches kernel keyrings, loads BPF or kernels, opens
// files by handle (CVE-2014-3519, "shocker"), or gives an exploit a
// kernel-side race window (userfaultfd, io_uring). Each refusal is the
// filter's own, not the capability check's: e2e cannot tell the two apart
// for mount, both say EPERM. Calls every program makes are the controls.
func TestDefaultRefuses(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the evaluation below builds x86-64 seccomp data")
	}
	const (
		allow = uint32(unix.SECCOMP_RET_ALLOW)
		eperm = uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
		// clone3 passes its flags behind a pointer the filter cannot
		// read: Docker answers ENOSYS so that libc falls back to clone.
		enosys = uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
		// The x32 ABI's calls reach an x86-64 filter with this bit set.
		x32 = 0x40000000
	)
	namespaces := uint64(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP)
	thread := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID)
	type call struct {
		name string
		nr   int
		args []uint64
		want uint32
	}
	refused := []call{
		{"mount", unix.SYS_MOUNT, nil, eperm},
		{"umount2", unix.SYS_UMOUNT2, nil, eperm},
		{"unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWUSER}, eperm},
		{"unshare(CLONE_NEWNS)", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWNS}, eperm},
		{"unshare(0)", unix.SYS_UNSHARE, []uint64{0}, eperm},
		{"setns", unix.SYS_SETNS, nil, eperm},
		{"pivot_root", unix.SYS_PIVOT_ROOT, nil, eperm},
		{"fsopen", unix.SYS_FSOPEN, nil, eperm},
		{"open_tree", unix.SYS_OPEN_TREE, nil, eperm},
		{"move_mount", unix.SYS_MOVE_MOUNT, nil, eperm},
		{"keyctl", unix.SYS_KEYCTL, nil, eperm},
		{"add_key", unix.SYS_ADD_KEY, nil, eperm},
		{"request_key", unix.SYS_REQUEST_KEY, nil, eperm},
		{"bpf", unix.SYS_BPF, nil, eperm},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, nil, eperm},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, nil, eperm},
		{"io_uring_enter", unix.SYS_IO_URING_ENTER, nil, eperm},
		{"io_uring_register", unix.SYS_IO_URING_REGISTER, nil, eperm},
		{"kexec_load", unix.SYS_KEXEC_LOAD, nil, eperm},
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, nil, eperm},
		{"init_module", unix.SYS_INIT_MODULE, nil, eperm},
		{"finit_module", unix.SYS_FINIT_MODULE, nil, eperm},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, nil, eperm},
		{"userfaultfd", unix.SYS_USERFAULTFD, nil, eperm},
		{"kcmp", unix.SYS_KCMP, nil, eperm},
		{"pidfd_getfd", unix.SYS_PIDFD_GETFD, nil, eperm},
		{"reboot", unix.SYS_REBOOT, nil, eperm},
		{"sethostname", unix.SYS_SETHOSTNAME, nil, eperm},
		{"clone(CLONE_NEWUSER)", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"clone(CLONE_NEWNS)", unix.SYS_CLONE, []uint64{unix.CLONE_NEWNS | uint64(unix.SIGCHLD)}, eperm},
		{"clone(CLONE_NEWNET)", unix.SYS_CLONE, []uint64{unix.CLONE_NEWNET | uint64(unix.SIGCHLD)}, eperm},
		{"clone(every namespace)", unix.SYS_CLONE, []uint64{namespaces | uint64(unix.SIGCHLD)}, eperm},
		{"clone3", unix.SYS_CLONE3, nil, enosys},
		// The same calls by their x32 numbers: go-seccomp-bpf's
		// x86-64 filter answers ENOSYS to the whole x32 ABI.
		{"x32 mount", unix.SYS_MOUNT | x32, nil, enosys},
		{"x32 unshare", unix.SYS_UNSHARE | x32, []uint64{unix.CLONE_NEWUSER}, enosys},
		{"x32 keyctl", unix.SYS_KEYCTL | x32, nil, enosys},
		{"x32 read", unix.SYS_READ | x32, nil, enosys},
	}
	allowed := []call{
		{"read", unix.SYS_READ, nil, allow},
		{"write", unix.SYS_WRITE, nil, allow},
		{"execve", unix.SYS_EXECVE, nil, allow},
		{"clone(fork)", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, allow},
		{"clone(thread)", unix.SYS_CLONE, []uint64{thread}, allow},
		{"socket(AF_INET)", unix.SYS_SOCKET, []uint64{unix.AF_INET, unix.SOCK_STREAM, 0}, allow},
		// Docker allows ptrace from kernel 4.8, where it can no longer
		// be used to get round a seccomp filter.
		{"ptrace", unix.SYS_PTRACE, nil, allow},
		{"chroot (CAP_SYS_CHROOT)", unix.SYS_CHROOT, nil, allow},
	}

	f, err := Compile(mustDefault(t, dockerCaps))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(refused, allowed...) {
		if got := run(t, f, c.nr, c.args...); got != c.want {
			t.Errorf("%s: filter returns %#x, want %#x", c.name, got, c.want)
		}
	}

	// --cap-add SYS_ADMIN opens what Docker's profile ties to it, and
	// nothing it does not.
	f, err = Compile(mustDefault(t, append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN")))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []call{
		{"mount", unix.SYS_MOUNT, nil, allow},
		{"umount2", unix.SYS_UMOUNT2, nil, allow},
		{"unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWUSER}, allow},
		{"setns", unix.SYS_SETNS, nil, allow},
		{"clone(every namespace)", unix.SYS_CLONE, []uint64{namespaces | uint64(unix.SIGCHLD)}, allow},
		{"keyctl", unix.SYS_KEYCTL, nil, eperm},
		{"kexec_load", unix.SYS_KEXEC_LOAD, nil, eperm},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, nil, eperm},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, nil, eperm},
	} {
		if got := run(t, f, c.nr, c.args...); got != c.want {
			t.Errorf("with CAP_SYS_ADMIN, %s: filter returns %#x, want %#x", c.name, got, c.want)
		}
	}
}

func mustDefault(t *testing.T, caps []string) *specs.LinuxSeccomp {
	t.Helper()
	p, err := Default(caps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
