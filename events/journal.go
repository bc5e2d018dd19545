// Package events is the per-user event journal behind `lodger events`:
// what Docker's daemon keeps in memory and streams, kept here in a file
// since lodger has no daemon. Every lodger process and every monitor
// appends one JSON line per event (Docker's events.Message) under a lock;
// readers poll the file, so a reader killed mid-stream leaves nothing
// behind. The journal lives in the run directory (a reboot wipes it, as
// a daemon restart loses Docker's) and is bounded: at MaxSize it becomes
// journal.1, replacing the previous one.
package events

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moby/moby/api/types/events"
)

// Message is one event, in Docker's shape: `events --format '{{json .}}'`
// prints it as Docker's does.
type Message = events.Message

// The event types lodger writes.
const (
	Container = events.ContainerEventType
	Image     = events.ImageEventType
	Volume    = events.VolumeEventType
	Network   = events.NetworkEventType
)

// MaxSize is where the journal rotates: about 5000 events.
const MaxSize = 1 << 20

// Path is the journal in the run directory runDir.
func Path(runDir string) string { return filepath.Join(runDir, "events", "journal") }

// Journal appends events to one file.
type Journal struct {
	path string
}

// Open returns the journal at path; nothing is opened until Write. A
// journal with an empty path drops what it is given.
func Open(path string) *Journal { return &Journal{path: path} }

// Write appends m, stamping its time and scope when unset. Failures are
// returned for tests; callers may ignore them, as an event lost must not
// fail the operation it reports.
func (j *Journal) Write(m Message) error {
	if j == nil || j.path == "" {
		return nil
	}
	if m.TimeNano == 0 {
		m.TimeNano = time.Now().UnixNano()
	}
	m.Time = m.TimeNano / int64(time.Second)
	if m.Scope == "" {
		m.Scope = "local"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	// The lock orders rotation against appends of other processes; an
	// append itself is one write of a whole line with O_APPEND.
	lock, err := os.OpenFile(j.path+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock event journal: %w", err)
	}
	if fi, err := os.Stat(j.path); err == nil && fi.Size()+int64(len(b)) > MaxSize {
		if err := os.Rename(j.path, j.path+".1"); err != nil {
			return fmt.Errorf("rotate event journal: %w", err)
		}
	}
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// Emit writes an event of type t and action a about id with attrs.
func (j *Journal) Emit(t events.Type, a string, id string, attrs map[string]string) {
	_ = j.Write(Message{Type: t, Action: events.Action(a), Actor: events.Actor{ID: id, Attributes: attrs}})
}
