package logfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReadOptions select what Read emits.
type ReadOptions struct {
	Tail         int   // entries from the end; negative for all
	From         int64 // byte offset in the current file to start at (start -a), when Tail is negative
	Since, Until time.Time
	// Follow keeps reading, across rotations, while Running says the
	// container runs; once it says not, the rest of the file is read and
	// Read returns.
	Follow  bool
	Running func() bool
	// Poll is how often a follower looks for more; 50 ms when zero.
	Poll time.Duration
}

// Read emits the log's entries at path (its rotated files first) in order.
// A missing log is an empty one.
func Read(ctx context.Context, path string, o ReadOptions, emit func(Entry)) error {
	filter := func(e Entry) {
		if (!o.Since.IsZero() && e.Time.Before(o.Since)) || (!o.Until.IsZero() && e.Time.After(o.Until)) {
			return
		}
		emit(e)
	}
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read log: %w", err)
	}
	var lines int // lines of the current file from where it starts
	if f != nil {
		defer func() { f.Close() }()
		switch {
		case o.Tail >= 0:
			if lines, err = seekTail(f, o.Tail); err != nil {
				return fmt.Errorf("read log: %w", err)
			}
		case o.From > 0:
			if _, err := f.Seek(o.From, io.SeekStart); err != nil {
				return fmt.Errorf("read log: %w", err)
			}
		}
	}
	if o.From <= 0 || o.Tail >= 0 {
		// The rotated files, oldest first; for a tail only the lines the
		// current file lacks.
		want := -1
		if o.Tail >= 0 {
			want = o.Tail - lines
		}
		var older []Entry
		for _, p := range Rotated(path) {
			if want == 0 {
				break
			}
			if err := readFile(p, func(e Entry) {
				older = append(older, e)
				if want > 0 && len(older) > want {
					older = older[1:]
				}
			}); err != nil {
				return err
			}
		}
		for _, e := range older {
			filter(e)
		}
	}
	if f == nil && !o.Follow {
		return nil
	}
	poll := o.Poll
	if poll == 0 {
		poll = 50 * time.Millisecond
	}
	var r *bufio.Reader
	if f != nil {
		r = bufio.NewReaderSize(f, 64<<10)
	}
	var pending []byte
	for {
		if r != nil {
			line, err := r.ReadBytes('\n')
			if err == nil {
				if e, ok := ParseLine(append(pending, line...)); ok {
					filter(e)
				}
				pending = pending[:0]
				continue
			}
			pending = append(pending, line...)
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("read log: %w", err)
			}
		}
		if !o.Follow {
			return nil
		}
		// Rotated or started over under us: finish this file, go on
		// with the new one from its start.
		if nf, ok := reopened(f, path); ok {
			if f != nil {
				f.Close()
			}
			f, r, pending = nf, bufio.NewReaderSize(nf, 64<<10), pending[:0]
			continue
		}
		if o.Running != nil && !o.Running() {
			// One more pass: the monitor writes the last lines before it
			// records the exit.
			if r != nil {
				rest, _ := io.ReadAll(r)
				for _, l := range splitLines(append(pending, rest...)) {
					if e, ok := ParseLine(l); ok {
						filter(e)
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// reopened opens path when it is no longer the file f reads (a rotation),
// or was truncated below where f is (max-file=1).
func reopened(f *os.File, path string) (*os.File, bool) {
	pfi, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	if f != nil {
		ffi, err := f.Stat()
		if err != nil {
			return nil, false
		}
		pos, _ := f.Seek(0, io.SeekCurrent)
		if os.SameFile(pfi, ffi) && pfi.Size() >= pos {
			return nil, false
		}
	}
	nf, err := os.Open(path)
	return nf, err == nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i == len(b) {
			break // no newline: a line still being written
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

func readFile(path string, emit func(Entry)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // rotated away while we looked
	}
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := ParseLine(sc.Bytes()); ok {
			e.Text = append([]byte(nil), e.Text...)
			emit(e)
		}
	}
	return sc.Err()
}

// seekTail positions f at the start of its last n lines and says how
// many lines that is (fewer than n when the file has fewer).
func seekTail(f *os.File, n int) (int, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return 0, err
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	count := 0
	pos := size
	for pos > 0 {
		step := min(int64(chunk), pos)
		pos -= step
		if _, err := f.ReadAt(buf[:step], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := step - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			if pos+i == size-1 {
				continue // the last line's own newline
			}
			count++
			if count == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return count, err
			}
		}
	}
	if size > 0 {
		count++ // the first line, which no newline precedes
	}
	_, err = f.Seek(0, io.SeekStart)
	return count, err
}
