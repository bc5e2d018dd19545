// Package copier copies trees into and out of a root that another party
// controls — a container's root filesystem, a build context — and packs
// and unpacks them as tar streams, without ever following what that party
// could have changed: `lodger cp`, `export`, the Engine API's archive
// endpoints and `build`'s COPY and ADD all go through it.
//
// Every path inside a Root is resolved inside it, symlinks included, and
// never again as a string afterwards (CVE-2018-15664: Docker checked a
// path in the container, then used it as a host path, so a container that
// swapped a directory for a symlink in between made `docker cp` read or
// write host files). Directories are opened in the root with
// openat2(RESOLVE_IN_ROOT) through pathrs-lite; below the first directory
// everything is opened relative to a file descriptor, one component at a
// time and never following a symlink, so a tree that flips a symlink while
// the copy runs can at worst make it fail. Unpacking creates every entry
// through descriptors too: an archive that plants a symlink and then
// writes through it, or climbs out with "..", reaches nothing outside its
// destination.
//
// Copies go through a tar stream in both directions, as Docker's do, so
// that `cp`, `cp -` and the API share one reader and one writer.
package copier
