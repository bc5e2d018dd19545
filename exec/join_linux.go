package exec

import (
	"fmt"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// joinOrder is the order in which a process enters a running container's
// namespaces: the user namespace first (it grants the rights for the
// others), the mount namespace last (it changes what paths mean).
var joinOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.CgroupNamespace, specs.PIDNamespace, specs.MountNamespace,
}

// joined lists the namespaces spec names by path, as "TYPE:PATH" in
// joinOrder: the spec of a process to run inside an existing container.
func joined(spec *specs.Spec) []string {
	if spec.Linux == nil {
		return nil
	}
	var out []string
	for _, t := range joinOrder {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == t && ns.Path != "" {
				out = append(out, string(t)+":"+ns.Path)
			}
		}
	}
	return out
}

// compileJoin is compile for lodger exec: the init enters the container's
// namespaces, forks so that the command is inside its pid namespace (the
// parent stays behind to forward signals and report the exit status), and
// then becomes the process as run does. Nothing is mounted.
func compileJoin(spec *specs.Spec, joins []string) ([]byte, error) {
	root := spec.Root.Path
	proc := spec.Process
	exe, code, err := lookExec(root, spec.Mounts, proc.Args[0], proc.Env, proc.User)
	if err != nil {
		return nil, &ExitError{code, err}
	}
	hp, err := securejoin.SecureJoin(root, proc.Cwd)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in the container: %w", proc.Cwd, err)
	}
	cwd := path.Clean("/" + strings.TrimPrefix(hp, root))
	if cwd == "/proc" || strings.HasPrefix(cwd, "/proc/") {
		return nil, &ExitError{ExitLodger, fmt.Errorf("working directory %s resolves to %s, inside /proc: refused", proc.Cwd, cwd)}
	}
	var p program
	p.op(opJoin, joins...)
	p.op(opReaper)
	if err := compileProcess(&p, spec, cwd, exe); err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}
