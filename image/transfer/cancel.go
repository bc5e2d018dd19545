package transfer

import (
	"context"
	"io"

	"go.podman.io/image/v5/types"
)

// cancelableRef is a source whose blobs stop being read once the context
// of the copy ends. containers/image checks its context between blobs
// only, and storage's layer streams (save's source) know of none: an
// interrupted save went on to the end of the layer it was copying, and
// could then complete (issue 12).
type cancelableRef struct{ types.ImageReference }

func (r cancelableRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	src, err := r.ImageReference.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return cancelableSource{src}, nil
}

type cancelableSource struct{ types.ImageSource }

func (s cancelableSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	rc, n, err := s.ImageSource.GetBlob(ctx, info, cache)
	if err != nil {
		return nil, 0, err
	}
	return &ctxReadCloser{ctx: ctx, ReadCloser: rc}, n, nil
}

// ctxReadCloser fails its reads once ctx ends.
type ctxReadCloser struct {
	ctx context.Context
	io.ReadCloser
}

func (r *ctxReadCloser) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}
