package image

import (
	"testing"

	"github.com/lodger-containers/lodger/image/internal/imagetest"
)

// TestMain stores layers as lodger does: see imagetest.Main.
func TestMain(m *testing.M) { imagetest.Main(m, "image") }
