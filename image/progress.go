package image

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progress reports a streaming pull to Options.Progress: on a terminal, a
// bar per layer drawn with mpb as containers/image draws its own; on
// anything else one line per layer. A nil *progress reports nothing.
type progress struct {
	w    io.Writer
	pool *mpb.Progress // nil: plain lines
	done bool
}

func newProgress(ctx context.Context, w io.Writer) *progress {
	if w == nil {
		return nil
	}
	return newProgressBars(ctx, w, isTerminal(w))
}

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
	if p.pool == nil {
		fmt.Fprintf(p.w, "%s skipped: already exists\n", p.prefix(d))
		return
	}
	bar := p.pool.New(0, mpb.NopStyle(), mpb.BarFillerClearOnComplete(), mpb.PrependDecorators(decor.Name(p.prefix(d)+" skipped: already exists")))
	bar.SetTotal(-1, true)
}

// layerBar follows one layer's download.
type layerBar struct {
	bar  *mpb.Bar
	size int64
}

// start reports a layer being downloaded; the bar it returns (nil on
// plain output) counts the bytes.
func (p *progress) start(d digest.Digest, size int64) *layerBar {
	if p == nil {
		return nil
	}
	if p.pool == nil {
		fmt.Fprintf(p.w, "%s\n", p.prefix(d))
		return nil
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
	return &layerBar{bar: bar, size: size}
}

func (b *layerBar) add(n int) {
	if b != nil {
		b.bar.EwmaIncrBy(n, 0)
	}
}

// finish completes the bar, or leaves it where it stopped when the layer
// failed.
func (b *layerBar) finish(ok bool) {
	if b == nil {
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
	if p == nil {
		return
	}
	p.wait()
	fmt.Fprintf(p.w, format, args...)
}
