//go:build !containers_image_openpgp || !exclude_graphdriver_btrfs || !osusergo || !netgo

package buildtags

// A package that does not exist: the go command stops while loading
// packages, before it compiles anything, and its error names this path.
// (Spaces, commas and colons would read better, but an import path with
// them breaks the go command even where this file is left out.)
import _ "lodger-needs-its-build-tags/use-make/or-export-GOFLAGS-as-the-file-buildtags-at-the-top-says"
