package session

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/sirupsen/logrus"
)

// Environment keys rootlesskit's parent and child use for their handshake.
const (
	rootlesskitPipeEnv       = "_LODGER_RK_PIPEFD"
	rootlesskitActivationEnv = "_LODGER_RK_ACTIVATION"
	rootlesskitHelperEnv     = "_LODGER_RK_HELPER"
	rootlesskitStateEnv      = "_LODGER_RK_STATEDIR"
)

// runRootlesskitParent runs in the host namespaces. rootlesskit re-executes
// /proc/self/exe into a new user and mount namespace, maps the subordinate
// ranges with newuidmap/newgidmap, writes the child's pid to dir/child_pid
// once the child is ready, and blocks until the child exits.
func runRootlesskitParent(dir string) error {
	logrus.SetOutput(os.Stderr)
	return parent.Parent(parent.Opt{
		PipeFDEnvKey:             rootlesskitPipeEnv,
		ChildUseActivationEnvKey: rootlesskitActivationEnv,
		StateDir:                 dir,
		StateDirEnvKey:           rootlesskitStateEnv,
		Propagation:              "rslave",
		SubidSource:              parent.SubidSourceStatic,
	})
}

// runRootlesskitChild runs inside the new namespaces and starts the pause
// process that holds them.
func runRootlesskitChild() int {
	logrus.SetOutput(os.Stderr)
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	err = child.Child(child.Opt{
		PipeFDEnvKey:              rootlesskitPipeEnv,
		RunActivationHelperEnvKey: rootlesskitHelperEnv,
		ChildUseActivationEnvKey:  rootlesskitActivationEnv,
		StateDirEnvKey:            rootlesskitStateEnv,
		TargetCmd:                 []string{filepath.Clean(self), pauseArg},
		Propagation:               "rslave",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "lodger: session child: %v\n", err)
		return 1
	}
	return 0
}
