package build

import (
	"io"

	"github.com/lodger-containers/lodger/container"
)

func extractToDir(dir string, r io.Reader) error { return container.ExtractToDir(dir, r) }
