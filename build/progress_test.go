package build

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestStagePrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		i, n int
		want string
	}{
		{"", 1, 3, "[1/3] "},
		{"builder", 2, 3, "[builder 2/3] "},
		{"stage-1", 3, 12, "[stage-1  3/12] "},
		{"", 10, 12, "[10/12] "},
		{"", 1, 0, ""},
	} {
		if got := stagePrefix(tc.name, tc.i, tc.n); got != tc.want {
			t.Errorf("stagePrefix(%q, %d, %d) = %q, want %q", tc.name, tc.i, tc.n, got, tc.want)
		}
	}
}

// TestPlainProgress drives the BuildKit reporter as the builder does and
// checks BuildKit's plain lines.
func TestPlainProgress(t *testing.T) {
	var out bytes.Buffer
	p := newVertices(&out, false, nil)
	p.df = dfSource{name: "Dockerfile", content: []byte("FROM a\nRUN one\nRUN two\nRUN three\nCMD x\n")}
	i := 0
	b := &buildkit{p: p, prefix: func() string { i++; return stagePrefix("", i, 3) }}
	b.internal("load build definition from Dockerfile", "transferring dockerfile: 40B done")
	b.step("FROM a", "FROM a")
	b.cached("x")
	b.step("ENV A=1", "") // no vertex
	b.committed("y")
	b.step("RUN one", "RUN one")
	w := b.output()
	fmt.Fprint(w, "first\nsecond ")
	fmt.Fprint(w, "half\nno newline")
	b.committed("z")
	b.step("RUN two", "RUN two")
	fmt.Fprint(b.output(), "out\n")
	b.fail(&RunError{Command: "/bin/sh -c two", Code: 3}, []parser.Range{{Start: parser.Position{Line: 3}, End: parser.Position{Line: 3}}})
	b.close()

	stamp := regexp.MustCompile(`#(\d+) \d\.\d{3} `)
	got := stamp.ReplaceAllString(out.String(), "#$1 T ")
	got = regexp.MustCompile(`DONE \d+\.\ds`).ReplaceAllString(got, "DONE Ns")
	want := `#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 40B done
#1 DONE Ns

#2 [1/3] FROM a
#2 CACHED

#3 [2/3] RUN one
#3 T first
#3 T second half
#3 T no newline
#3 DONE Ns

#4 [3/3] RUN two
#4 T out
#4 ERROR: process "/bin/sh -c two" did not complete successfully: exit code: 3
------
 > [3/3] RUN two:
T out
------
Dockerfile:3
--------------------
   1 |     FROM a
   2 |     RUN one
   3 | >>> RUN two
   4 |     RUN three
   5 |     CMD x
--------------------
`
	got = regexp.MustCompile(`(?m)^\d\.\d{3} `).ReplaceAllString(got, "T ")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plain progress (-want +got):\n%s", diff)
	}
}

// TestTTYProgressControlChars: a RUN's output cannot move the cursor of
// the terminal view.
func TestTTYProgressControlChars(t *testing.T) {
	var out bytes.Buffer
	p := newVertices(&out, true, func() (int, int) { return 60, 20 })
	b := &buildkit{p: p, prefix: func() string { return "[1/1] " }}
	b.step("RUN x", "RUN x")
	fmt.Fprint(b.output(), "evil \x1b[2J\x1b[Hline\n")
	p.mu.Lock()
	p.drawLocked(false)
	p.mu.Unlock()
	b.committed("")
	b.close()
	s := out.String()
	if strings.Contains(s, "\x1b[2J") || strings.Contains(s, "\x1b[H") {
		t.Errorf("the view passed the output's escapes through: %q", s)
	}
	if !strings.Contains(s, "evil  [2J [Hline") || !strings.Contains(s, "FINISHED") {
		t.Errorf("view %q: want the line with its escapes blanked, and FINISHED", s)
	}
	for _, l := range strings.Split(s, "\n") {
		l = regexp.MustCompile(`\x1b\[[0-9]*[A-Za-z]|\r`).ReplaceAllString(l, "")
		if len(l) > 60 {
			t.Errorf("line %q is wider than the terminal", l)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1500: "1.50kB", 2_340_000: "2.34MB", 5e9: "5.00GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBKError(t *testing.T) {
	if got := bkError(errors.New("other")); got != "other" {
		t.Errorf("bkError = %q", got)
	}
}
