// Package logfile is a container's log on disk, as Docker's and podman's
// file drivers write it: json-file (Docker's default, one JSON object a
// line: {"log","stream","attrs","time"}), k8s-file (podman's and CRI's
// "TIME STREAM F|P TEXT", which is also what lodger wrote before issue 13,
// so old logs read on) and none. The monitor writes it (it links this
// package, no storage), so does a foreground run; `lodger logs` reads it.
package logfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
)

// The drivers lodger has.
const (
	JSONFile = "json-file"
	K8sFile  = "k8s-file"
	None     = "none"
)

// ErrNotReadable is Docker's answer to `logs` on a container whose driver
// keeps nothing.
var ErrNotReadable = errors.New("configured logging driver does not support reading")

// ErrInvalid says a log driver or option was refused.
var ErrInvalid = errors.New("invalid log option")

// Setting says which part of a log configuration a refused value is.
type Setting int

// The parts of a log configuration.
const (
	SettingDriver Setting = iota + 1
	SettingOpt
)

func (s Setting) String() string {
	if s == SettingDriver {
		return "log driver"
	}
	return "log option"
}

// ConfigError is a log driver or option refused, in neither front end's
// words: the CLI calls the setting by its flag, the API by its field
// (Phrase). It is an ErrInvalid.
type ConfigError struct {
	Setting Setting
	// Subject is the value as the message shows it.
	Subject string
	Reason  string
}

func (e *ConfigError) Error() string { return e.Phrase(e.Setting.String()) }

// Phrase is the message with name for the setting.
func (e *ConfigError) Phrase(name string) string {
	return name + " " + e.Subject + ": " + ErrInvalid.Error() + ": " + e.Reason
}

func (e *ConfigError) Is(target error) bool { return target == ErrInvalid }

func configError(s Setting, subject, reason string) error {
	return &ConfigError{Setting: s, Subject: subject, Reason: reason}
}

// Options are a container's --log-driver and --log-opt, as its record and
// the monitor's request keep them.
type Options struct {
	// Driver is json-file, k8s-file or none; empty in records from before
	// issue 13, whose logs are k8s-file.
	Driver string `json:"driver,omitempty"`
	// MaxSize caps the file (0: no cap); MaxFile is how many files are
	// kept, the current one included.
	MaxSize int64 `json:"maxSize,omitempty"`
	MaxFile int   `json:"maxFile,omitempty"`
	// Attrs are the labels and environment variables --log-opt labels=,
	// env=, labels-regex= and env-regex= chose, as json-file's "attrs" and
	// what `logs --details` prints.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// DefaultMaxFile is how many files a capped log keeps when max-file is not
// given. Docker's json-file keeps 1 (the log starts over at each
// rotation); lodger kept one rotated file before max-file existed, and
// keeps doing so, so that a capped log never shows nothing right after a
// rotation.
const DefaultMaxFile = 2

// Files is how many files the log keeps.
func (o Options) Files() int {
	switch {
	case o.MaxSize <= 0:
		return 1
	case o.MaxFile > 0:
		return o.MaxFile
	}
	return DefaultMaxFile
}

// Parse checks a --log-driver and --log-opt values (KEY=VALUE) against
// the container's labels and environment (KEY=VALUE), which labels= and
// env= pick from.
func Parse(driver string, opts []string, labels map[string]string, env []string) (Options, error) {
	o := Options{Driver: driver}
	switch driver {
	case "", "json-file", "k8s-file", "none":
		if o.Driver == "" {
			o.Driver = JSONFile
		}
	case "journald", "syslog", "passthrough", "local", "fluentd", "gelf", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries":
		return o, configError(SettingDriver, strconv.Quote(driver), "lodger writes json-file (the default), k8s-file or none")
	default:
		return o, configError(SettingDriver, strconv.Quote(driver), "unknown driver; use json-file, k8s-file or none")
	}
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	pick := func(from map[string]string, names string) {
		for _, k := range strings.Split(names, ",") {
			if v, ok := from[strings.TrimSpace(k)]; ok {
				if o.Attrs == nil {
					o.Attrs = map[string]string{}
				}
				o.Attrs[strings.TrimSpace(k)] = v
			}
		}
	}
	pickRegex := func(from map[string]string, re *regexp.Regexp) {
		for k, v := range from {
			if re.MatchString(k) {
				if o.Attrs == nil {
					o.Attrs = map[string]string{}
				}
				o.Attrs[k] = v
			}
		}
	}
	for _, kv := range opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, configError(SettingOpt, strconv.Quote(kv), "want KEY=VALUE")
		}
		if o.Driver == None {
			return o, configError(SettingOpt, strconv.Quote(kv), "the none driver takes no options")
		}
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return o, configError(SettingOpt, strconv.Quote(kv), "max-size wants a size such as 10m")
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, configError(SettingOpt, strconv.Quote(kv), "max-file wants a number of files, at least 1")
			}
			o.MaxFile = n
		case "labels":
			pick(labels, v)
		case "env":
			pick(envMap, v)
		case "labels-regex", "env-regex":
			re, err := regexp.Compile(v)
			if err != nil {
				return o, configError(SettingOpt, strconv.Quote(kv), err.Error())
			}
			if k == "labels-regex" {
				pickRegex(labels, re)
			} else {
				pickRegex(envMap, re)
			}
		default:
			return o, configError(SettingOpt, strconv.Quote(kv), "lodger knows max-size, max-file, labels, env, labels-regex and env-regex")
		}
	}
	if o.MaxFile > 0 && o.MaxSize == 0 {
		return o, configError(SettingOpt, "max-file", "it needs max-size too")
	}
	return o, nil
}

// Writer appends a container's output to its log, rotating it at
// MaxSize. It is safe for concurrent use: the stdout and stderr copies
// share one.
type Writer struct {
	mu   sync.Mutex
	path string
	o    Options
	f    *os.File
	size int64
	buf  []byte
}

// Open opens path for appending. For the none driver it returns a
// Writer that keeps nothing and touches no file.
func Open(path string, o Options) (*Writer, error) {
	w := &Writer{path: path, o: o}
	if o.Driver == None {
		return w, nil
	}
	if err := w.open(0); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(flag int) error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|flag, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Entry is one line of output, or part of one.
type Entry struct {
	Time   time.Time
	Stream string // stdout or stderr
	// Partial says Text does not end a line: the line was longer than the
	// copy's buffer, or the stream ended without a newline.
	Partial bool
	Text    []byte // without the newline
	Attrs   map[string]string
}

// Write appends one entry.
func (w *Writer) Write(e Entry) error {
	if w.o.Driver == None {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = encode(w.buf[:0], w.o.Driver, e.Time, e.Stream, e.Partial, e.Text, w.o.Attrs)
	if w.o.MaxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.o.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	return err
}

// Printf writes a line of lodger's own (the network's complaints) to the
// container's stderr stream, as the user sees them in `logs`.
func (w *Writer) Printf(format string, args ...any) {
	_ = w.Write(Entry{Time: time.Now(), Stream: "stderr", Text: []byte("lodger: " + fmt.Sprintf(format, args...))})
}

// rotate shifts ctr.log.N-1 out, each older file one up, and starts a new
// file; with one file kept it starts the file over, as Docker's
// max-file=1.
func (w *Writer) rotate() error {
	w.f.Close()
	n := w.o.Files()
	if n <= 1 {
		return w.open(os.O_TRUNC)
	}
	_ = os.Remove(w.path + "." + strconv.Itoa(n-1))
	for i := n - 2; i >= 1; i-- {
		_ = os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	return w.open(0)
}

// Close closes the file.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// jsonLine is json-file's line, field for field as Docker's jsonlog.
type jsonLine struct {
	Log    string            `json:"log"`
	Stream string            `json:"stream"`
	Attrs  map[string]string `json:"attrs,omitempty"`
	Time   time.Time         `json:"time"`
}

// encode appends e's line in the driver's format to b.
func encode(b []byte, driver string, t time.Time, stream string, partial bool, text []byte, attrs map[string]string) []byte {
	if driver == K8sFile {
		tag := "F"
		if partial {
			tag = "P"
		}
		// podman's k8s-file: the local time with its offset.
		b = fmt.Appendf(b, "%s %s %s ", t.Format(time.RFC3339Nano), stream, tag)
		b = append(b, text...)
		return append(b, '\n')
	}
	line := string(text)
	if !partial {
		line += "\n"
	}
	j, _ := json.Marshal(jsonLine{Log: line, Stream: stream, Attrs: attrs, Time: t.UTC()})
	b = append(b, j...)
	return append(b, '\n')
}

// ParseLine reads one line of either format (a log's format is told by
// its first byte, so logs written before the driver was recorded read
// too). ok is false for a line that is neither.
func ParseLine(line []byte) (e Entry, ok bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) > 0 && line[0] == '{' {
		var j jsonLine
		if json.Unmarshal(line, &j) != nil {
			return e, false
		}
		e = Entry{Time: j.Time, Stream: j.Stream, Attrs: j.Attrs}
		text, full := strings.CutSuffix(j.Log, "\n")
		e.Text, e.Partial = []byte(text), !full
		return e, true
	}
	fields := bytes.SplitN(line, []byte(" "), 4)
	if len(fields) < 4 {
		return e, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return e, false
	}
	return Entry{Time: t, Stream: string(fields[1]), Partial: string(fields[2]) == "P", Text: fields[3]}, true
}

// Copy writes each line read from r to w as an entry of stream, until r
// ends. A line longer than 16 KiB is cut into partial entries, as
// Docker's json-file cuts at 16 KiB.
func Copy(w *Writer, stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			e := Entry{Time: time.Now(), Stream: stream, Text: chunk, Partial: true}
			if chunk[len(chunk)-1] == '\n' {
				e.Text, e.Partial = chunk[:len(chunk)-1], false
			}
			_ = w.Write(e)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// Rotated is the log's rotated files that exist, oldest first.
func Rotated(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append(out, p)
	}
	slices.Reverse(out)
	return out
}

// Details is what `logs --details` puts before a line: the attrs as
// k=v pairs, sorted, query-escaped and comma-joined, as Docker's.
func Details(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(attrs[k]))
	}
	return b.String()
}
