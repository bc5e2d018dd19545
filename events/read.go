package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Filter is `events --filter`: values of one key match any, keys all.
type Filter map[string][]string

// ErrBadFilter says a --filter was refused.
var ErrBadFilter = errors.New("invalid filter")

// ParseFilter reads KEY=VALUE filters; the keys are Docker's that lodger's
// events carry.
func ParseFilter(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("--filter %q: %w: want KEY=VALUE", a, ErrBadFilter)
		}
		switch k {
		case "type", "event", "container", "image", "label", "volume", "network", "scope":
		default:
			return nil, fmt.Errorf("--filter %q: %w: lodger filters by type, event, container, image, volume, network, label and scope", a, ErrBadFilter)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Match says whether m passes f, as Docker's events filter.
func (f Filter) Match(m Message) bool {
	any := func(key string, ok func(v string) bool) bool {
		vs, set := f[key]
		return !set || slices.ContainsFunc(vs, ok)
	}
	attrs := m.Actor.Attributes
	action := string(m.Action)
	return any("type", func(v string) bool { return v == string(m.Type) }) &&
		any("event", func(v string) bool {
			// health_status matches "health_status: healthy" too.
			base, _, _ := strings.Cut(action, ":")
			return v == action || v == base
		}) &&
		any("container", func(v string) bool {
			return m.Type == Container && (v == attrs["name"] || strings.HasPrefix(m.Actor.ID, v))
		}) &&
		any("image", func(v string) bool {
			if m.Type == Image {
				return v == m.Actor.ID || v == attrs["name"] || strings.HasPrefix(m.Actor.ID, "sha256:"+v)
			}
			return v == attrs["image"]
		}) &&
		any("volume", func(v string) bool { return m.Type == Volume && v == m.Actor.ID }) &&
		any("network", func(v string) bool {
			return m.Type == Network && (v == attrs["name"] || strings.HasPrefix(m.Actor.ID, v))
		}) &&
		any("scope", func(v string) bool { return v == m.Scope }) &&
		any("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := attrs[k]
			return ok && (!hasVal || got == val)
		})
}

// ReadOptions select what Read emits.
type ReadOptions struct {
	// Since, when set, starts with the events from then on; otherwise
	// only events written after Read starts are emitted.
	Since time.Time
	// Until, when set, ends the stream at that time; otherwise Read
	// follows until ctx ends.
	Until  time.Time
	Filter Filter
	Poll   time.Duration // 100 ms when zero
}

// Read emits the journal's events at path as ReadOptions say.
func Read(ctx context.Context, path string, o ReadOptions, emit func(Message) error) error {
	poll := o.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	pass := func(m Message) error {
		t := time.Unix(0, m.TimeNano)
		if (!o.Since.IsZero() && t.Before(o.Since)) || (!o.Until.IsZero() && t.After(o.Until)) || !o.Filter.Match(m) {
			return nil
		}
		return emit(m)
	}
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read events: %w", err)
	}
	if !o.Since.IsZero() {
		if err := readFile(path+".1", pass); err != nil {
			return err
		}
	} else if f != nil {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var r *bufio.Reader
	if f != nil {
		r = bufio.NewReader(f)
	}
	var pending []byte
	for {
		if r != nil {
			line, err := r.ReadBytes('\n')
			if err == nil {
				var m Message
				if json.Unmarshal(append(pending, line...), &m) == nil {
					if err := pass(m); err != nil {
						return err
					}
				}
				pending = pending[:0]
				continue
			}
			pending = append(pending, line...)
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("read events: %w", err)
			}
		}
		if !o.Until.IsZero() && time.Now().After(o.Until) {
			return nil
		}
		if nf, ok := reopened(f, path); ok {
			if f != nil {
				f.Close()
			}
			f, r, pending = nf, bufio.NewReader(nf), pending[:0]
			continue
		}
		wait := poll
		if !o.Until.IsZero() {
			wait = min(wait, max(time.Until(o.Until), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// reopened opens path when it is no longer the file f reads: rotated, or
// created since.
func reopened(f *os.File, path string) (*os.File, bool) {
	pfi, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	if f != nil {
		if ffi, err := f.Stat(); err != nil || os.SameFile(pfi, ffi) {
			return nil, false
		}
	}
	nf, err := os.Open(path)
	return nf, err == nil
}

func readFile(path string, emit func(Message) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Message
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if err := emit(m); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
