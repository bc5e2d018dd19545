package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeParse(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name    string
		driver  string
		partial bool
		attrs   map[string]string
		want    string
	}{
		{"json full", JSONFile, false, nil, `{"log":"hi \u003cthere\u003e\n","stream":"stdout","time":"2026-12-06T08:00:00.123456789Z"}` + "\n"},
		{"json partial", JSONFile, true, nil, `{"log":"hi \u003cthere\u003e","stream":"stdout","time":"2026-12-06T08:00:00.123456789Z"}` + "\n"},
		{"json attrs", JSONFile, false, map[string]string{"a": "b"}, `{"log":"hi \u003cthere\u003e\n","stream":"stdout","attrs":{"a":"b"},"time":"2026-12-06T08:00:00.123456789Z"}` + "\n"},
		{"k8s full", K8sFile, false, nil, "2026-12-06T08:00:00.123456789Z stdout F hi <there>\n"},
		{"k8s partial", K8sFile, true, nil, "2026-12-06T08:00:00.123456789Z stdout P hi <there>\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(encode(nil, tc.driver, at, "stdout", tc.partial, []byte("hi <there>"), tc.attrs))
			if got != tc.want {
				t.Errorf("encode = %q, want %q", got, tc.want)
			}
			e, ok := ParseLine([]byte(got))
			want := Entry{Time: at, Stream: "stdout", Partial: tc.partial, Text: []byte("hi <there>"), Attrs: tc.attrs}
			if !ok || !e.Time.Equal(at) {
				t.Fatalf("ParseLine(%q) = %+v, %v", got, e, ok)
			}
			e.Time = at
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("ParseLine (-want +got):\n%s", diff)
			}
		})
	}
	// What lodger wrote before issue 13 (k8s-file lines) still reads.
	e, ok := ParseLine([]byte("2025-01-02T03:04:05.5Z stderr F old line with  spaces\n"))
	if !ok || e.Stream != "stderr" || string(e.Text) != "old line with  spaces" || e.Partial {
		t.Errorf("old line: %+v %v", e, ok)
	}
	for _, bad := range []string{"", "garbage", "{not json", "notatime stdout F x"} {
		if _, ok := ParseLine([]byte(bad)); ok {
			t.Errorf("ParseLine(%q) ok, want refused", bad)
		}
	}
}

func TestParse(t *testing.T) {
	labels := map[string]string{"com.x": "1 2", "other": "no"}
	env := []string{"A=a", "B=b=c", "PATH=/bin"}
	o, err := Parse("", []string{"max-size=1k", "max-file=3", "labels=com.x,missing", "env=B", "env-regex=^P"}, labels, env)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Driver: JSONFile, MaxSize: 1024, MaxFile: 3, Attrs: map[string]string{"com.x": "1 2", "B": "b=c", "PATH": "/bin"}}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if got := Details(o.Attrs); got != "B=b%3Dc,PATH=%2Fbin,com.x=1+2" {
		t.Errorf("Details = %q", got)
	}
	for _, tc := range []struct {
		driver string
		opts   []string
		want   string
	}{
		{"syslog", nil, "syslog"},
		{"bogus", nil, "unknown driver"},
		{"", []string{"max-size=lots"}, "max-size"},
		{"", []string{"colour=blue"}, "colour"},
		{"", []string{"max-file=2"}, "needs max-size"},
		{"", []string{"max-size=1k", "max-file=0"}, "max-file"},
		{"none", []string{"max-size=1k"}, "none driver"},
	} {
		_, err := Parse(tc.driver, tc.opts, nil, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want ErrInvalid naming %q", tc.driver, tc.opts, err, tc.want)
		}
	}
}

func writeLines(t *testing.T, w *Writer, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := w.Write(Entry{Time: time.Now(), Stream: "stdout", Text: fmt.Appendf(nil, "line %03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, path string, o ReadOptions) []string {
	t.Helper()
	var got []string
	if err := Read(context.Background(), path, o, func(e Entry) { got = append(got, string(e.Text)) }); err != nil {
		t.Fatal(err)
	}
	return got
}

func lines(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("line %03d", i))
	}
	return out
}

func TestRotation(t *testing.T) {
	// One json-file line of "line NNN" is 81 bytes: 3 lines a 256-byte file.
	for _, tc := range []struct {
		maxFile   int
		wantFiles int
		wantFirst int // the oldest line kept of 1..30
	}{
		{0, 2, 25}, // lodger's default: one rotated file
		{1, 1, 28}, // Docker's max-file=1: the file starts over
		{3, 3, 22},
	} {
		t.Run(fmt.Sprint("max-file=", tc.maxFile), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ctr.log")
			w, err := Open(path, Options{Driver: JSONFile, MaxSize: 256, MaxFile: tc.maxFile})
			if err != nil {
				t.Fatal(err)
			}
			writeLines(t, w, 1, 30)
			w.Close()
			files := append(Rotated(path), path)
			if len(files) != tc.wantFiles {
				t.Errorf("files %q, want %d", files, tc.wantFiles)
			}
			for _, p := range files {
				if fi, err := os.Stat(p); err != nil || fi.Size() > 256 {
					t.Errorf("%s: %v, over the cap", p, err)
				}
			}
			if diff := cmp.Diff(lines(tc.wantFirst, 30), readAll(t, path, ReadOptions{Tail: -1})); diff != "" {
				t.Errorf("all (-want +got):\n%s", diff)
			}
			// A tail longer than the current file reaches into the rotated ones.
			if diff := cmp.Diff(lines(max(tc.wantFirst, 26), 30), readAll(t, path, ReadOptions{Tail: 5})); diff != "" {
				t.Errorf("tail 5 (-want +got):\n%s", diff)
			}
			if got := readAll(t, path, ReadOptions{Tail: 0}); len(got) != 0 {
				t.Errorf("tail 0 = %q", got)
			}
		})
	}
}

func TestReadFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, _ := Open(path, Options{Driver: K8sFile})
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		_ = w.Write(Entry{Time: base.Add(time.Duration(i) * time.Minute), Stream: "stdout", Text: fmt.Appendf(nil, "line %03d", i)})
	}
	w.Close()
	got := readAll(t, path, ReadOptions{Tail: -1, Since: base.Add(90 * time.Second), Until: base.Add(3 * time.Minute)})
	if diff := cmp.Diff(lines(2, 3), got); diff != "" {
		t.Errorf("since/until (-want +got):\n%s", diff)
	}
	if got := readAll(t, filepath.Join(t.TempDir(), "none"), ReadOptions{Tail: -1}); len(got) != 0 {
		t.Errorf("a missing log read %q", got)
	}
}

// A follower sees lines written after it started, across a rotation, and
// returns once the container has stopped.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, _ := Open(path, Options{Driver: JSONFile, MaxSize: 256, MaxFile: 2})
	writeLines(t, w, 1, 2)
	stopped := make(chan struct{})
	done := make(chan []string)
	go func() {
		var got []string
		_ = Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Poll: time.Millisecond, Running: func() bool {
			select {
			case <-stopped:
				return false
			default:
				return true
			}
		}}, func(e Entry) { got = append(got, string(e.Text)) })
		done <- got
	}()
	for i := 3; i <= 12; i++ {
		time.Sleep(5 * time.Millisecond)
		writeLines(t, w, i, i)
	}
	time.Sleep(20 * time.Millisecond)
	close(stopped)
	select {
	case got := <-done:
		if diff := cmp.Diff(lines(1, 12), got); diff != "" {
			t.Errorf("follow (-want +got):\n%s", diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return after the container stopped")
	}
}

func TestCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, _ := Open(path, Options{Driver: JSONFile})
	long := strings.Repeat("x", 20<<10)
	Copy(w, "stderr", strings.NewReader("one\n"+long+"\nlast without newline"))
	w.Close()
	var got []Entry
	_ = Read(context.Background(), path, ReadOptions{Tail: -1}, func(e Entry) { got = append(got, e) })
	var text string
	var partial []bool
	for _, e := range got {
		text += string(e.Text)
		if !e.Partial {
			text += "\n"
		}
		partial = append(partial, e.Partial)
		if e.Stream != "stderr" {
			t.Errorf("stream %q", e.Stream)
		}
	}
	if text != "one\n"+long+"\nlast without newline" {
		t.Errorf("copied text differs (%d bytes)", len(text))
	}
	if diff := cmp.Diff([]bool{false, true, false, true}, partial); diff != "" {
		t.Errorf("partial flags (-want +got):\n%s", diff)
	}
}

func TestNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Open(path, Options{Driver: None})
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 1, 3)
	w.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("none driver left a file: %v", err)
	}
}
