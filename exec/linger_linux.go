package exec

import (
	"os"
	osexec "os/exec"
	"sync"
	"syscall"

	"github.com/lodger-containers/lodger/rootless"
)

// LingerArg is argv[1] of the helper that holds files until lodger exits
// (exec/nsinit's linger, in C, before any Go runs).
const LingerArg = "_lodger-linger"

var lingering struct {
	sync.Mutex
	ends []*os.File // write ends of the helpers' pipes, open until lodger exits
}

// Linger hands files to a helper that keeps them open until lodger has
// exited, so that their last close, which for a TAP device costs the
// kernel an RCU grace period, does not hold up lodger's own exit. The
// caller closes its copies as usual afterwards.
func Linger(files ...*os.File) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := osexec.Command("/proc/self/exe", LingerArg)
	cmd.Args[0] = "lodger-linger"
	cmd.Env = []string{rootless.NoJoinEnv()}
	cmd.Stdin = r
	cmd.ExtraFiles = files
	// Its own session: no terminal signal reaches it; and nobody waits
	// for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	_ = cmd.Process.Release()
	lingering.Lock()
	lingering.ends = append(lingering.ends, w)
	lingering.Unlock()
	return nil
}
