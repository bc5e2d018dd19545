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
// everything else: the bypass of the userspace network (netstack). It is
// a filter of its own, installed before the user's profile, so that the
// kernel's precedence keeps a profile's ERRNO or KILL for connect
// winning over the notification.
//
// Only this architecture's native calls are caught: a 32-bit or x32
// program's connect has another number or arrives through socketcall,
// and takes the stack's path.
func ConnectNotify() ([]byte, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	nr, ok := info.SyscallNames["connect"]
	if !ok {
		return nil, fmt.Errorf("no connect syscall on %s", info.Name)
	}
	// Offsets in struct seccomp_data: nr at 0, arch at 4.
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(info.ID), SkipTrue: 3},
		bpf.LoadAbsolute{Off: 0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_USER_NOTIF},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble connect filter: %w", err)
	}
	var out bytes.Buffer
	for _, ins := range raw {
		_ = binary.Write(&out, binary.LittleEndian, ins)
	}
	return out.Bytes(), nil
}
