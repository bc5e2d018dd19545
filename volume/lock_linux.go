package volume

import (
	"fmt"
	"path/filepath"

	"github.com/lodger-containers/lodger/internal/flock"
)

// lock takes the store's exclusive flock, creating the volumes directory
// on first use, and returns its release.
func (s *Store) lock() (func(), error) {
	unlock, err := flock.Lock(filepath.Join(s.dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("lock volumes: %w", err)
	}
	return unlock, nil
}
