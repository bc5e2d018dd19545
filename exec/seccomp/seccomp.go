// Package seccomp turns OCI seccomp configurations into BPF programs for the
// container init: Docker's default profile (from moby/profiles) or a
// profile file in Docker's format, compiled with go-seccomp-bpf. No
// libseccomp is needed.
package seccomp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	seccompbpf "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Default returns Docker's default profile as it applies to a container
// whose bounding set is caps (rules for CAP_SYS_ADMIN and the like are
// included only when the container has them).
func Default(caps []string) (*specs.LinuxSeccomp, error) {
	return mobyseccomp.GetDefaultProfile(specFor(caps))
}

// Load reads a profile in Docker's JSON format from file.
func Load(file string, caps []string) (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	p, err := mobyseccomp.LoadProfile(string(b), specFor(caps))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", file, err)
	}
	return p, nil
}

func specFor(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

// last keeps the most recent compilation. lodger checks a profile while it
// reads the flags and compiles it again into the init program moments
// later, on the start-up path; both see the same *LinuxSeccomp.
var last struct {
	sync.Mutex
	cfg    *specs.LinuxSeccomp
	filter []byte
}

// Compile assembles cfg for this machine's architecture into the raw
// struct sock_filter array the kernel takes. cfg must not change once
// compiled.
func Compile(cfg *specs.LinuxSeccomp) ([]byte, error) {
	last.Lock()
	defer last.Unlock()
	if cfg == last.cfg && cfg != nil {
		return last.filter, nil
	}
	filter, err := compile(cfg)
	if err == nil {
		last.cfg, last.filter = cfg, filter
	}
	return filter, err
}

func compile(cfg *specs.LinuxSeccomp) ([]byte, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	defAction, err := action(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	// One group per action, in the order the actions first appear: the
	// profile allows some calls in several rules that differ in their
	// arguments (socket, one rule per address family), and go-seccomp-bpf
	// reaches only the first group that names a syscall, so the rules of
	// a syscall must be one group, their conditions OR'd.
	policy := seccompbpf.Policy{DefaultAction: placeholder}
	groups := map[seccompbpf.Action]int{}
	unconditional := map[seccompbpf.Action]map[string]bool{}
	for _, rule := range cfg.Syscalls {
		act, err := action(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls %v: %w", rule.Names, err)
		}
		conds, ok := conditions(rule.Args)
		if !ok {
			// An argument test go-seccomp-bpf cannot express: leave the
			// rule out, so the default action (a refusal) applies.
			continue
		}
		gi, seen := groups[act]
		if !seen {
			gi = len(policy.Syscalls)
			groups[act] = gi
			policy.Syscalls = append(policy.Syscalls, seccompbpf.SyscallGroup{Action: act})
			unconditional[act] = map[string]bool{}
		}
		group := &policy.Syscalls[gi]
		for _, name := range rule.Names {
			// Names this table does not know are syscalls newer than the
			// table; they keep the default action.
			if _, known := info.SyscallNames[name]; !known {
				continue
			}
			if len(conds) == 0 {
				if !unconditional[act][name] {
					unconditional[act][name] = true
					group.Names = append(group.Names, name)
				}
			} else {
				group.NamesWithCondtions = append(group.NamesWithCondtions, seccompbpf.NameWithConditions{Name: name, Conditions: conds})
			}
		}
	}
	// A syscall allowed without conditions needs none of its conditional
	// rules (go-seccomp-bpf refuses the mix).
	for i := range policy.Syscalls {
		g := &policy.Syscalls[i]
		kept := g.NamesWithCondtions[:0]
		for _, nc := range g.NamesWithCondtions {
			if !unconditional[g.Action][nc.Name] {
				kept = append(kept, nc)
			}
		}
		g.NamesWithCondtions = kept
	}
	nonEmpty := policy.Syscalls[:0]
	for _, g := range policy.Syscalls {
		if len(g.Names) > 0 || len(g.NamesWithCondtions) > 0 {
			nonEmpty = append(nonEmpty, g)
		}
	}
	policy.Syscalls = nonEmpty
	if len(policy.Syscalls) == 0 {
		policy.Syscalls = []seccompbpf.SyscallGroup{{Names: []string{"exit_group"}, Action: seccompbpf.ActionAllow}}
	}
	prog, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp filter: %w", err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp filter: %w", err)
	}
	var out bytes.Buffer
	for _, ins := range raw {
		// go-seccomp-bpf validates its default action against a list of
		// bare actions, so an errno-carrying default goes in afterwards.
		if ins.Op == uint16(unix.BPF_RET|unix.BPF_K) && ins.K == uint32(placeholder) {
			ins.K = uint32(defAction)
		}
		_ = binary.Write(&out, binary.LittleEndian, ins)
	}
	return out.Bytes(), nil
}

// placeholder stands for the default action until after assembly; no rule
// uses SECCOMP_RET_TRACE.
const placeholder = seccompbpf.ActionTrace

func action(a specs.LinuxSeccompAction, errnoRet *uint) (seccompbpf.Action, error) {
	errno := uint32(unix.EPERM)
	if errnoRet != nil {
		errno = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return seccompbpf.ActionAllow, nil
	case specs.ActErrno:
		return seccompbpf.Action(unix.SECCOMP_RET_ERRNO | errno&unix.SECCOMP_RET_DATA), nil
	case specs.ActKill, specs.ActKillThread:
		return seccompbpf.ActionKillThread, nil
	case specs.ActKillProcess:
		return seccompbpf.ActionKillProcess, nil
	case specs.ActTrap:
		return seccompbpf.ActionTrap, nil
	case specs.ActLog:
		return seccompbpf.ActionLog, nil
	}
	return 0, fmt.Errorf("unsupported seccomp action %q", a)
}

func conditions(args []specs.LinuxSeccompArg) ([]seccompbpf.Condition, bool) {
	var out []seccompbpf.Condition
	for _, a := range args {
		c := seccompbpf.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpEqualTo:
			c.Operation = seccompbpf.Equal
		case specs.OpNotEqual:
			c.Operation = seccompbpf.NotEqual
		case specs.OpGreaterThan:
			c.Operation = seccompbpf.GreaterThan
		case specs.OpLessThan:
			c.Operation = seccompbpf.LessThan
		case specs.OpGreaterEqual:
			c.Operation = seccompbpf.GreaterOrEqual
		case specs.OpLessEqual:
			c.Operation = seccompbpf.LessOrEqual
		case specs.OpMaskedEqual:
			switch a.ValueTwo {
			case 0: // (arg & mask) == 0
				c.Operation = seccompbpf.BitsNotSet
			case a.Value: // (arg & mask) == mask
				c.Operation = seccompbpf.BitsSet
			default:
				return nil, false
			}
		default:
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}
