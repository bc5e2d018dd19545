package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/exec"
)

type execOptions struct {
	interactive bool
	tty         bool
	detach      bool
	privileged  bool
	env         []string
	user        string
	workdir     string
}

func newExecCommand() *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container, with the container's user,
environment, capabilities and seccomp filter unless flags say otherwise.
Exit codes follow run: the command's own, 125 when lodger fails, 126 when
the command cannot be executed, 127 when it is not found, 128+N for signal N.`,
		Args: minArgs(2, "CONTAINER COMMAND"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			sigs, stop := forwardSignals()
			defer stop()
			code, err := container.Exec(cmd.Context(), store, args[0], container.ExecOptions{
				Args:        args[1:],
				Env:         o.env,
				User:        o.user,
				Workdir:     o.workdir,
				Interactive: o.interactive,
				TTY:         o.tty,
				Detach:      o.detach,
				Privileged:  o.privileged,
				Signals:     sigs,
				Stdin:       os.Stdin,
				Stdout:      os.Stdout,
				Stderr:      os.Stderr,
			})
			return processExit(code, err)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and pass it to the command")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.BoolVarP(&o.detach, "detach", "d", false, "start the command and return")
	f.BoolVar(&o.privileged, "privileged", false, "every capability of the user namespace and no seccomp filter for this command")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass lodger's own)")
	f.StringVarP(&o.user, "user", "u", "", "user to run as: NAME|UID[:GROUP|GID], resolved in the container")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	return sessionCommand(cmd, exec.ExitLodger)
}
