//go:build !linux

package session

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("rootless containers are not supported on " + runtime.GOOS)

// Enter is not supported outside Linux.
func Enter() error { return errUnsupported }

// KeeperMain never claims the process outside Linux.
func KeeperMain() (bool, int) { return false, 0 }

// Describe has nothing to report outside Linux.
func Describe() Report { return Report{Problem: errUnsupported.Error()} }
