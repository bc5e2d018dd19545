package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

type attachOptions struct {
	detachKeys string
	noStdin    bool
	sigProxy   bool
}

// detachedBySignal says a signal detached lodger from a container it
// did not proxy signals to (--sig-proxy=false): lodger then exits as
// that signal's 128+N, silently, as Docker's CLI dies of it.
func detachedBySignal(err error) bool {
	var sd *container.SignalDetachError
	return errors.As(err, &sd)
}

func newAttachCommand() *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [flags] CONTAINER",
		Short: "Attach to a running container's input and output",
		Long: `Attach to a running container: its output on your terminal, your input
to it (when it was started with -i). Type the detach keys (ctrl-p ctrl-q by
default) to leave it running. lodger exits with the container's exit code.`,
		Args: exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			in, err := container.Get(store, args[0])
			if err != nil {
				return err
			}
			tty, err := container.HasTerminal(store, in.ID)
			if err != nil {
				return err
			}
			sigs, stop := forwardSignals()
			defer stop()
			code, err := container.Attach(in, tty, container.AttachOptions{
				DetachKeys: o.detachKeys, NoStdin: o.noStdin,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Signals: sigs,
				NoSigProxy: !o.sigProxy,
			})
			if detachedBySignal(err) {
				return &exitCodeError{Code: code}
			}
			if errors.Is(err, container.ErrDetached) {
				return nil
			}
			return processExit(code, err)
		},
	}
	cmd.Flags().StringVar(&o.detachKeys, "detach-keys", "", "keys that detach (default ctrl-p,ctrl-q; none disables)")
	cmd.Flags().BoolVar(&o.noStdin, "no-stdin", false, "do not pass input to the container")
	cmd.Flags().BoolVar(&o.sigProxy, "sig-proxy", true, "pass the signals lodger receives to the container; false: SIGINT, SIGTERM or SIGHUP detach, leaving it running")
	return sessionCommand(cmd, 1)
}
