package container

import (
	"context"
	"fmt"
	"io"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/container/monitor"
)

// rfc3339NanoFixed is the time logs -t prints: Docker's, nine digits
// always, so that the columns line up.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// LogOptions select what Logs prints.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	// Details puts the attrs --log-opt labels= and env= chose before each
	// line, as Docker's logs --details.
	Details bool
	Tail    int   // lines from the end; negative for all
	From    int64 // byte offset to start at, when Tail is negative
	Since   time.Time
	Until   time.Time
}

// Logs copies the container's log to stdout and stderr by stream. With
// Follow it keeps reading until the container has exited and the log is
// drained. A container whose driver is none has nothing to read:
// logfile.ErrNotReadable, as Docker says.
func Logs(ctx context.Context, store cstorage.Store, ref string, o LogOptions, stdout, stderr io.Writer) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if in.Metadata.logOptions().Driver == logfile.None {
		return fmt.Errorf("logs %s: %w", in.Name, logfile.ErrNotReadable)
	}
	ro := logfile.ReadOptions{Tail: o.Tail, From: o.From, Since: o.Since, Until: o.Until, Follow: o.Follow,
		Running: func() bool {
			in, err := Get(store, in.ID)
			return err == nil && in.State.Status == monitor.StatusRunning
		}}
	return logfile.Read(ctx, in.LogPath, ro, func(e logfile.Entry) {
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		// Docker's order: the time, the details, the line.
		var b []byte
		if o.Timestamps {
			b = append(e.Time.UTC().AppendFormat(b, rfc3339NanoFixed), ' ')
		}
		if o.Details {
			b = append(append(b, logfile.Details(e.Attrs)...), ' ')
		}
		b = append(b, e.Text...)
		if !e.Partial {
			b = append(b, '\n')
		}
		_, _ = w.Write(b)
	})
}
