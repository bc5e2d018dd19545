package api

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/lodger-containers/lodger/image"
)

// progressMessage is one line of Docker's JSON progress stream: the
// jsonstream.Message clients decode, plus the rendered bar Docker's
// daemon still sends as "progress" for clients that print it as it is.
type progressMessage struct {
	jsonstream.Message
	ProgressMessage string `json:"progress,omitempty"`
}

// blobStream writes a pull's or push's per-blob progress (image.Options's
// Blobs) as Docker's JSON progress messages: one line per event, the ID
// the blob's short digest, byte counts in progressDetail; the status words
// are Docker's, which clients show as they are.
type blobStream struct {
	mu   sync.Mutex
	w    io.Writer
	push bool
	// last is when each blob's bytes were last written, sent how many:
	// byte reports are thinned to one per blob per progressEvery, as
	// Docker's are, and the last count always goes out.
	last map[string]time.Time
	sent map[string]int64
	now  func() time.Time
}

// progressEvery is how often a blob's bytes are written at most.
const progressEvery = 100 * time.Millisecond

func newBlobStream(w io.Writer, push bool) *blobStream {
	return &blobStream{w: w, push: push, last: map[string]time.Time{}, sent: map[string]int64{}, now: time.Now}
}

// blob is image.Options's Blobs.
func (b *blobStream) blob(p image.BlobProgress) {
	id := p.Digest.Encoded()
	if len(id) > 12 {
		id = id[:12]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// A status without byte counts still carries an empty progressDetail,
	// as Docker's do: a terminal client keeps one line per ID only for
	// messages that have one.
	m := progressMessage{Message: jsonstream.Message{ID: id, Progress: &jsonstream.Progress{}}}
	switch p.Event {
	case image.BlobExists:
		m.Status = "Already exists"
		if b.push {
			m.Status = "Layer already exists"
		}
	case image.BlobStart:
		m.Status = "Pulling fs layer"
		if b.push {
			m.Status = "Preparing"
		}
	case image.BlobBytes:
		now := b.now()
		if (p.Total <= 0 || p.Current < p.Total) && now.Sub(b.last[id]) < progressEvery {
			return
		}
		b.last[id] = now
		b.bytes(m, id, p.Current, p.Total)
		return
	case image.BlobDone:
		// The count reached, when the thinning (or containers/image's
		// own interval) held it back: a small blob may have no other.
		if p.Current > b.sent[id] {
			total := p.Total
			if total <= 0 {
				total = p.Current
			}
			b.bytes(m, id, p.Current, total)
		}
		delete(b.last, id)
		delete(b.sent, id)
		m.Progress = &jsonstream.Progress{}
		if b.push {
			m.Status = "Pushed"
			break
		}
		m.Status = "Download complete"
		_ = jsonLine(b.w, m)
		m.Status = "Pull complete"
	default:
		return
	}
	_ = jsonLine(b.w, m)
}

// bytes writes a blob's byte counts in m (its ID set).
func (b *blobStream) bytes(m progressMessage, id string, current, total int64) {
	b.sent[id] = current
	// A pulled layer is unpacked as it downloads (one stream into
	// storage): there is no separate extraction to report.
	m.Status = "Downloading"
	if b.push {
		m.Status = "Pushing"
	}
	m.Progress = &jsonstream.Progress{Current: current, Total: max(total, 0)}
	m.ProgressMessage = renderProgress(current, total)
	_ = jsonLine(b.w, m)
}

// message writes a line without an ID (the stream's own status).
func (b *blobStream) message(m jsonstream.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = jsonLine(b.w, m)
}

func (b *blobStream) status(format string, a ...any) {
	b.message(jsonstream.Message{Status: fmt.Sprintf(format, a...)})
}

func (b *blobStream) fail(err error) {
	b.message(jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}})
}

// renderProgress is the bar Docker's daemon puts in "progress": fifty
// columns of = up to the share done, then the sizes.
func renderProgress(current, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%8v", units.HumanSize(float64(current)))
	}
	done := min(int(float64(current)/float64(total)*100)/2, 50)
	bar := fmt.Sprintf("[%s>%s] ", strings.Repeat("=", done), strings.Repeat(" ", max(50-done, 0)))
	if current > total {
		return bar + fmt.Sprintf("%8v", units.HumanSize(float64(current)))
	}
	return bar + fmt.Sprintf("%8v/%v", units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}
