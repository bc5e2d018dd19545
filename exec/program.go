package exec

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// Opcodes of the init program carried out by exec/nsinit/nsinit.c.
const (
	opMount        = 'M' // source, target, fstype, flags, data, fallback
	opMountIn      = 'I' // root, target inside root, source, fstype, flags, data, fallback
	opFile         = 'F' // path, or root and a path beneath it: create an empty file to bind onto
	opDir          = 'D' // path, or root and a path beneath it (no symlink on the way)
	opSymlink      = 'L' // target, path
	opPivot        = 'P' // new root
	opLoopback     = 'O' // bring up lo
	opTerminal     = 'T' // pty from the container's devpts, master to lodger
	opIdentity     = 'U' // uid, gid, supplementary gids...
	opChdir        = 'C' // path
	opHostname     = 'H' // name
	opExec         = 'E' // path, argc, argv..., env...
	opBounding     = 'K' // mask of capabilities to keep in the bounding set
	opCapset       = 'A' // mask for the effective and permitted sets
	opKeepCaps     = 'Y' // keep permitted capabilities across setresuid
	opAmbient      = 'B' // mask of ambient capabilities to raise
	opNoNewPrivs   = 'N'
	opSeccomp      = 'S' // raw struct sock_filter array
	opConnectTrap  = 'V' // raw struct sock_filter array; its listener goes to lodger on fd 5
	opMask         = 'X' // root, path inside it to hide
	opReadonly     = 'R' // root, path inside it to make read-only
	opReadonlyTree = 'W' // root, path: make a mount and all below it read-only
	opRlimit       = 'Z' // resource, soft, hard (-1 unlimited)
	opReaper       = 'Q' // stay pid 1 as a reaper, continue in a child
	opJoin         = 'J' // "TYPE:PATH"... namespaces of a running container
	opSysctl       = 'G' // root, path under root's /proc/sys, value
	opWait         = 'g' // wait for lodger's go-ahead on fd 5: the start hooks are done
)

// Mount fallbacks understood by the init.
const (
	fallbackNone          = ""
	fallbackTolerateEPERM = "tolerate-eperm"
)

// program is the init's wire format: per op one opcode byte, a u32 count
// of arguments, then each argument as a u32 length and its bytes, all
// little endian.
type program struct{ buf bytes.Buffer }

func (p *program) op(code byte, args ...string) {
	p.buf.WriteByte(code)
	p.u32(len(args))
	for _, a := range args {
		p.u32(len(a))
		p.buf.WriteString(a)
	}
}

func (p *program) u32(n int) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	p.buf.Write(b[:])
}

func (p *program) mount(source, target, fstype string, flags uintptr, data, fallback string) {
	p.op(opMount, source, target, fstype, strconv.FormatUint(uint64(flags), 10), data, fallback)
}

// mountIn mounts at a path inside root, resolved by the init itself with
// openat2(RESOLVE_IN_ROOT) at mount time.
func (p *program) mountIn(root, target, source, fstype string, flags uintptr, data, fallback string) {
	p.op(opMountIn, root, target, source, fstype, strconv.FormatUint(uint64(flags), 10), data, fallback)
}

func (p *program) exec(path string, args, env []string) {
	all := append([]string{path, strconv.Itoa(len(args))}, args...)
	p.op(opExec, append(all, env...)...)
}

func (p *program) Bytes() []byte { return p.buf.Bytes() }
