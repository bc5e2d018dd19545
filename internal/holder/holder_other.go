//go:build !linux

package holder

import (
	"errors"
	"os"
	"runtime"
)

// Run is Linux-only.
func Run(o Options, sigs <-chan os.Signal) error {
	return errors.New("the socket holder is not supported on " + runtime.GOOS)
}
