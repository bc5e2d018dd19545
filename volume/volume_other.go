//go:build !linux

package volume

import (
	"errors"
	"runtime"
)

var errNotSupported = errors.New("volumes are not supported on " + runtime.GOOS)

func (s *Store) lock() (func(), error) { return nil, errNotSupported }

// Populate is only supported on Linux.
func Populate(dst, src string) (bool, error) { return false, errNotSupported }

// Chown is only supported on Linux.
func Chown(dir string, uid, gid int) error { return errNotSupported }
