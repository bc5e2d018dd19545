package image

import "github.com/lodger-containers/lodger/image/internal/imagetest"

// The helpers image's and image/transfer's tests share, under the names
// these tests use.
var (
	newStore = imagetest.NewStore
	tarOf    = imagetest.TarOf
	counts   = imagetest.Counts
)
