//go:build !linux

package network

import (
	"errors"
	"runtime"
)

func (s *Store) lock() (func(), error) {
	return nil, errors.New("networks are not supported on " + runtime.GOOS)
}
