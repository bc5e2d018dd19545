package image

import "github.com/opencontainers/go-digest"

// BlobEvent is what happened to one blob of a pull or a push.
type BlobEvent int

const (
	// BlobExists: the blob is there already (a layer in storage, for a
	// pull; in the registry, for a push) and is not transferred.
	BlobExists BlobEvent = iota
	// BlobStart: the transfer begins; Total is the blob's size (-1
	// unknown).
	BlobStart
	// BlobBytes: Current bytes have been transferred.
	BlobBytes
	// BlobDone: transferred, checked and stored (a pulled layer is
	// unpacked as it streams, so it is in storage when this comes).
	BlobDone
)

// BlobProgress is one report of Options.Blobs.
type BlobProgress struct {
	Event  BlobEvent
	Digest digest.Digest
	// Current is the bytes transferred so far, Total the blob's size
	// (-1 unknown): the compressed bytes of the registry's blob.
	Current, Total int64
}
