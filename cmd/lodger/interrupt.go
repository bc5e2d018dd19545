package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/config"
	"github.com/lodger-containers/lodger/image"
)

// Interrupts (issue 12). A command that writes images (pull, push, save,
// load, import) catches SIGINT, SIGTERM and SIGHUP and cancels its
// context, so that the library stops and cleans up after itself (no
// partial layer, temporary file or image record), then exits 128+N as
// Docker's CLI does (130 for Ctrl-C). Without this the default action
// killed the process mid-write and skipped every cleanup. A second signal
// ends the process at once: the user insists.

// interruptSignals are the signals that stop a command.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// interruptedError is the cause of a context a signal cancelled.
type interruptedError struct{ sig syscall.Signal }

func (e *interruptedError) Error() string { return "interrupted by " + signalName(e.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// interruptible runs fn with a context that the first interrupt signal
// cancels. What, as "pull IMAGE", names the command in the message.
func interruptible(cmd *cobra.Command, what string, fn func(ctx context.Context) error) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, interruptSignals...)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	go watchInterrupts(ctx, sigs, cancel)
	return interruptedExit(ctx, what, fn(ctx))
}

// watchInterrupts cancels ctx on the first signal of sigs and exits on
// the second.
func watchInterrupts(ctx context.Context, sigs <-chan os.Signal, cancel context.CancelCauseFunc) {
	select {
	case s := <-sigs:
		cancel(&interruptedError{sig: s.(syscall.Signal)})
	case <-ctx.Done():
		return
	}
	if s, ok := <-sigs; ok {
		os.Exit(128 + int(s.(syscall.Signal)))
	}
}

// interrupted says whether a signal cancelled ctx.
func interrupted(ctx context.Context) bool {
	var ie *interruptedError
	return errors.As(context.Cause(ctx), &ie)
}

// interruptedExit turns the error of a command a signal stopped into its
// exit: 128+N, saying so. Other errors pass.
func interruptedExit(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var ie *interruptedError
	if errors.As(context.Cause(ctx), &ie) {
		return &exitCodeError{Code: 128 + int(ie.sig), Err: fmt.Errorf("%s: %w", what, ie)}
	}
	return err
}

// withBudgetHint says, under an image refused for its unpacked size (issue
// 12, finding 4), which setting holds the budget and where.
func withBudgetHint(err error) error {
	var be *image.BudgetError
	if errors.As(err, &be) {
		return fmt.Errorf("%w\nthe budget is [pull] max_unpacked_size in %s; raise it only for an image you trust", err, filepath.Join(config.Dir(), "lodger.toml"))
	}
	return err
}

// maxUnpackedSize is [pull] max_unpacked_size, 0 (the default) when unset
// or when lodger.toml is bad, which opening the store reports.
func maxUnpackedSize() int64 {
	cfg, err := config.Load()
	if err != nil {
		return 0
	}
	n, _ := cfg.MaxUnpackedSize()
	return n
}

// relayInterrupts passes the signals run forwards to its container on,
// and cancels ctx's cancel on an interrupt signal as well: until the
// container exists there is nothing to forward to, and the pull or the
// lookup that ctx governs stops instead (issue 12: Ctrl-C during run's pull
// used to wait in the queue and reach the container once it started). The
// returned func stops the relay.
func relayInterrupts(sigs <-chan os.Signal, cancel context.CancelCauseFunc) (<-chan os.Signal, func()) {
	out := make(chan os.Signal, cap(sigs))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				switch s {
				case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
					cancel(&interruptedError{sig: s.(syscall.Signal)})
				}
				select {
				case out <- s:
				default: // as signal.Notify does with a full channel
				}
			case <-done:
				return
			}
		}
	}()
	return out, func() { close(done) }
}
