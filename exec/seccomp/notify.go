package seccomp

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ConnectNotify is the filter that hands the container's connect(2)
// calls to a user-space listener (SECCOMP_RET_USER_NOTIF) and allows
// everything else: the bypass of the userspace network (netstack).
func ConnectNotify() ([]byte, error) { return Notify("connect") }

// Notify is a filter that hands the named calls of the container to a
// user-space listener (SECCOMP_RET_USER_NOTIF) and allows everything
// else: connect for the bypass of the userspace network (netstack),
// accept and accept4 for its accept bypass. It is a filter of its own,
// installed before the user's profile, so that the kernel's precedence
// keeps a profile's ERRNO or KILL for those calls winning over the
// notification.
//
// Only this architecture's native calls are caught: a 32-bit or x32
// program's call has another number or arrives through socketcall, and
// takes the kernel's path.
func Notify(calls ...string) ([]byte, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	if len(calls) == 0 || len(calls) > 200 {
		return nil, fmt.Errorf("notify filter: %d calls", len(calls))
	}
	// Offsets in struct seccomp_data: nr at 0, arch at 4. Each call's
	// test jumps to the notification (the second last instruction) when
	// it matches; the arch test, and the last call's miss, to allow.
	k := len(calls)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(info.ID), SkipTrue: uint8(k + 2)},
		bpf.LoadAbsolute{Off: 0, Size: 4},
	}
	for i, name := range calls {
		nr, ok := info.SyscallNames[name]
		if !ok {
			return nil, fmt.Errorf("no %s syscall on %s", name, info.Name)
		}
		left := k - 1 - i // tests after this one
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipTrue: uint8(left), SkipFalse: 0})
		if left == 0 {
			prog[len(prog)-1] = bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 1}
		}
	}
	prog = append(prog,
		bpf.RetConstant{Val: unix.SECCOMP_RET_USER_NOTIF},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble notify filter: %w", err)
	}
	var out bytes.Buffer
	for _, ins := range raw {
		_ = binary.Write(&out, binary.LittleEndian, ins)
	}
	return out.Bytes(), nil
}
