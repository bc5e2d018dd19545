package main

import (
	"os"
	"os/signal"
	"syscall"
)

// forwardSignals catches the signals run and exec pass on to the
// container's process (SIGWINCH resizes its terminal); stop ends that.
func forwardSignals() (sigs chan os.Signal, stop func()) {
	sigs = make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	return sigs, func() { signal.Stop(sigs) }
}

// processExit turns a container process's outcome into the CLI's: its own
// exit code, silently, or lodger's error with the code that goes with it.
func processExit(code int, err error) error {
	if err != nil {
		return &exitCodeError{Code: code, Err: err}
	}
	if code != 0 {
		return &exitCodeError{Code: code}
	}
	return nil
}
