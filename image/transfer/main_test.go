package transfer

import (
	"testing"

	"github.com/lodger-containers/lodger/image/internal/imagetest"
)

// TestMain stores layers as lodger does: see imagetest.Main.
func TestMain(m *testing.M) { imagetest.Main(m, "image/transfer") }

// The helpers image's and image/transfer's tests share, under the names
// these tests use.
var (
	newStore = imagetest.NewStore
	tarOf    = imagetest.TarOf
	counts   = imagetest.Counts
)
