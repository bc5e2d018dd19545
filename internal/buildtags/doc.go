// Package buildtags holds no code: it is imported by the packages that link
// go.podman.io/image and go.podman.io/storage (image, storage) so that a
// build without lodger's build tags stops at once with one error that says
// what to do (guard.go), instead of cgo failing on gpgme and btrfs headers
// the machine does not have (issue 17). The tags themselves are spelled in
// the file buildtags at the top of the repository.
package buildtags
