package transfer

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/image"
)

// progress reports a streaming pull to Options.Progress: on a terminal, a
// bar per layer drawn with mpb as containers/image draws its own; on
// anything else one line per layer; and each blob's bytes to
// Options.Blobs. A nil *progress reports nothing.
type progress struct {
	w      io.Writer     // nil: no lines
	pool   *mpb.Progress // nil: plain lines
	done   bool
	report func(image.BlobProgress)
}

func newProgress(ctx context.Context, o image.Options) *progress {
	if o.Progress == nil && o.Blobs == nil {
		return nil
	}
	if o.Progress == nil {
		return &progress{report: o.Blobs}
	}
	p := newProgressBars(ctx, o.Progress, isTerminal(o.Progress))
	p.report = o.Blobs
	return p
}

// blobReport calls report, when there is one.
func (p *progress) blobReport(e image.BlobEvent, d digest.Digest, current, total int64) {
	if p.report != nil {
		p.report(image.BlobProgress{Event: e, Digest: d, Current: current, Total: total})
	}
}

// copyProgress is a containers/image progress channel that turns what
// copy.Image reports into Options.Blobs's reports, for copy.Options's
// Progress; stop closes it once copy.Image has returned. It is nil (and
// stop does nothing) without Options.Blobs.
func copyProgress(o image.Options) (chan types.ProgressProperties, func()) {
	if o.Blobs == nil {
		return nil, func() {}
	}
	ch := make(chan types.ProgressProperties)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pp := range ch {
			bp := image.BlobProgress{Digest: pp.Artifact.Digest, Current: int64(pp.Offset), Total: pp.Artifact.Size}
			switch pp.Event {
			case types.ProgressEventNewArtifact:
				bp.Event = image.BlobStart
			case types.ProgressEventRead:
				bp.Event = image.BlobBytes
			case types.ProgressEventDone:
				bp.Event = image.BlobDone
			case types.ProgressEventSkipped:
				bp.Event = image.BlobExists
			default:
				continue
			}
			o.Blobs(bp)
		}
	}()
	return ch, func() { close(ch); <-done }
}

// copyProgressInterval is how often copy.Image reports a blob's bytes.
const copyProgressInterval = 100 * time.Millisecond

func newProgressBars(ctx context.Context, w io.Writer, bars bool) *progress {
	p := &progress{w: w}
	if bars {
		// WithAutoRefresh: mpb draws only on terminals it detects itself; the
		// caller has decided already (and tests draw into a buffer).
		p.pool = mpb.NewWithContext(ctx, mpb.WithWidth(40), mpb.WithOutput(w), mpb.WithAutoRefresh())
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// prefix is what a layer's bar or line starts with; on bars, the digest is
// cut so that the bars line up, as containers/image does.
func (p *progress) prefix(d digest.Digest) string {
	if p.pool != nil {
		return "Copying blob " + shortID(d.Encoded())
	}
	return "Copying blob " + d.String()
}

// skipped reports a layer already in storage.
func (p *progress) skipped(d digest.Digest) {
	if p == nil {
		return
	}
	p.blobReport(image.BlobExists, d, 0, -1)
	if p.w == nil {
		return
	}
	if p.pool == nil {
		fmt.Fprintf(p.w, "%s skipped: already exists\n", p.prefix(d))
		return
	}
	bar := p.pool.New(0, mpb.NopStyle(), mpb.BarFillerClearOnComplete(), mpb.PrependDecorators(decor.Name(p.prefix(d)+" skipped: already exists")))
	bar.SetTotal(-1, true)
}

// layerBar follows one layer's download.
type layerBar struct {
	bar  *mpb.Bar // nil: no bar drawn
	size int64
	p    *progress
	d    digest.Digest
	n    int64
}

// start reports a layer being downloaded; the bar it returns (nil on
// plain output) counts the bytes.
func (p *progress) start(d digest.Digest, size int64) *layerBar {
	if p == nil {
		return nil
	}
	p.blobReport(image.BlobStart, d, 0, size)
	if p.pool == nil {
		if p.w != nil {
			fmt.Fprintf(p.w, "%s\n", p.prefix(d))
		}
		return &layerBar{size: size, p: p, d: d}
	}
	prefix := p.prefix(d)
	var bar *mpb.Bar
	if size > 0 {
		bar = p.pool.AddBar(size, mpb.BarFillerClearOnComplete(),
			mpb.PrependDecorators(decor.OnComplete(decor.Name(prefix), prefix+" done")),
			mpb.AppendDecorators(
				decor.OnComplete(decor.CountersKibiByte("%.1f / %.1f"), ""),
				decor.OnComplete(decor.Name(" | "), ""),
				decor.OnComplete(decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30), ""),
			))
	} else {
		bar = p.pool.New(0, mpb.SpinnerStyle(".", "..", "...", "....", "").PositionLeft(), mpb.BarFillerClearOnComplete(),
			mpb.PrependDecorators(decor.OnComplete(decor.Name(prefix), prefix+" done")))
	}
	return &layerBar{bar: bar, size: size, p: p, d: d}
}

func (b *layerBar) add(n int) {
	if b == nil || n == 0 {
		return
	}
	b.n += int64(n)
	b.p.blobReport(image.BlobBytes, b.d, b.n, b.size)
	if b.bar != nil {
		b.bar.EwmaIncrBy(n, 0)
	}
}

// finish completes the bar, or leaves it where it stopped when the layer
// failed.
func (b *layerBar) finish(ok bool) {
	if b == nil {
		return
	}
	if ok {
		b.p.blobReport(image.BlobDone, b.d, b.n, b.size)
	}
	if b.bar == nil {
		return
	}
	if !ok {
		b.bar.Abort(false)
		return
	}
	if b.size > 0 {
		b.bar.SetCurrent(b.size)
	} else {
		b.bar.SetTotal(-1, true)
	}
}

// wait lets the bars draw their last state; later output goes below them.
func (p *progress) wait() {
	if p == nil || p.pool == nil || p.done {
		return
	}
	p.done = true
	p.pool.Wait()
}

// printf writes a line below the bars.
func (p *progress) printf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.wait()
	fmt.Fprintf(p.w, format, args...)
}
