//go:build !linux

package build

import (
	"errors"
	"io"
	"runtime"
)

func extractToDir(dir string, r io.Reader) error {
	return errors.New("unpack a build context: not supported on " + runtime.GOOS)
}
