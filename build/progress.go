package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Progress is how Build tells what it does on Options.Output.
type Progress string

const (
	// ProgressClassic prints Docker's classic builder's lines (Step N/M,
	// ---> Using cache, Successfully built ID), what DOCKER_BUILDKIT=0
	// and POST /build show; RUN output goes through as it is.
	ProgressClassic Progress = ""
	// ProgressPlain prints BuildKit's plain lines: a "#N [stage i/n]
	// STEP" header for each step that makes a layer, "#N 0.123 line" for
	// each line a RUN prints, then "#N CACHED", "#N DONE 0.4s" or "#N
	// ERROR: ...".
	ProgressPlain Progress = "plain"
	// ProgressTTY redraws a compact view on a terminal: each step with
	// its time, and the last lines of the one running.
	ProgressTTY Progress = "tty"
)

// reporter is where the builder tells what it does; the classic and the
// BuildKit-style outputs each print it their way.
type reporter interface {
	// step is an instruction starting: text as written (classic's
	// Step N/M line), vertex the name BuildKit gives its vertex, ""
	// for an instruction that makes none (ENV, LABEL…).
	step(text, vertex string)
	base(id string)      // FROM found its image
	triggers(n int)      // ONBUILD triggers follow
	cached(id string)    // the step came from the cache
	committed(id string) // the step made an image
	running(ctr string)  // a RUN container was made
	removed(ctr string)  // and removed
	// output is where a RUN's output goes.
	output() io.Writer
	// status is a line of the current step's own (pull progress).
	status() io.Writer
	// internal is an [internal] step done at once, with its lines.
	internal(name string, lines ...string)
	warn(msg string)
	// fail ends the current step with err; where is the instruction's
	// place in the Dockerfile, for the excerpt BuildKit prints.
	fail(err error, where []parser.Range)
	built(id string)
	tagged(names []string)
	// close ends the output (a terminal view's last drawing).
	close()
}

// classic prints Docker's classic builder's lines.
type classic struct {
	w     io.Writer
	n     int
	total int
}

func (c *classic) step(text, _ string) {
	c.n++
	fmt.Fprintf(c.w, "Step %d/%d : %s\n", c.n, c.total, text)
}
func (c *classic) base(id string) { fmt.Fprintf(c.w, " ---> %s\n", short(id)) }
func (c *classic) triggers(n int) {
	s := ""
	if n > 1 {
		s = "s"
	}
	fmt.Fprintf(c.w, "# Executing %d build trigger%s\n", n, s)
}
func (c *classic) cached(id string)    { fmt.Fprintf(c.w, " ---> Using cache\n ---> %s\n", short(id)) }
func (c *classic) committed(id string) { fmt.Fprintf(c.w, " ---> %s\n", short(id)) }
func (c *classic) running(ctr string)  { fmt.Fprintf(c.w, " ---> Running in %s\n", short(ctr)) }
func (c *classic) removed(ctr string) {
	fmt.Fprintf(c.w, " ---> Removed intermediate container %s\n", short(ctr))
}
func (c *classic) output() io.Writer          { return c.w }
func (c *classic) status() io.Writer          { return io.Discard }
func (c *classic) internal(string, ...string) {}
func (c *classic) warn(msg string)            { fmt.Fprintf(c.w, "[Warning] %s\n", msg) }
func (c *classic) fail(error, []parser.Range) {}
func (c *classic) built(id string)            { fmt.Fprintf(c.w, "Successfully built %s\n", short(id)) }
func (c *classic) close()                     {}
func (c *classic) tagged(names []string) {
	for _, n := range names {
		fmt.Fprintf(c.w, "Successfully tagged %s\n", n)
	}
}

// vertex is one step as BuildKit shows it.
type vertex struct {
	index    int
	name     string
	start    time.Time
	dur      time.Duration
	state    vertexState
	err      string
	statuses []string
	logs     [][]byte // the last logKeep lines, with their times
	partial  []byte   // a line not ended yet
}

type vertexState int

const (
	vertexRunning vertexState = iota
	vertexDone
	vertexCached
	vertexFailed
	vertexCanceled
)

// logKeep is how many lines of a step's output are kept for the error
// summary and the terminal view; BuildKit keeps ten.
const logKeep = 10

// vertices is the BuildKit-style output: plain lines, or a terminal view
// redrawn from the same vertices.
type vertices struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	width   func() (int, int) // the terminal's columns and rows
	list    []*vertex
	cur     *vertex // the step running, nil between steps
	last    *vertex // the last vertex printed (plain)
	started time.Time
	drawn   int  // lines of the last drawing
	over    bool // the last drawing is made
	stop    chan struct{}
	done    chan struct{}
	df      dfSource
}

// dfSource is the Dockerfile, for the excerpt under an error.
type dfSource struct {
	name    string
	content []byte
}

func newVertices(w io.Writer, tty bool, size func() (int, int)) *vertices {
	v := &vertices{w: w, tty: tty, width: size, started: time.Now()}
	if tty {
		v.stop, v.done = make(chan struct{}), make(chan struct{})
		go v.redraw()
	}
	return v
}

// open starts a vertex; the one before it, when still open, ends.
func (p *vertices) open(name string) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked(vertexDone)
	v := &vertex{index: len(p.list) + 1, name: name, start: time.Now()}
	p.list = append(p.list, v)
	p.cur = v
	if !p.tty {
		p.headerLocked(v)
	}
	return v
}

func (p *vertices) headerLocked(v *vertex) {
	if p.last == v {
		return
	}
	if p.last != nil {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.index, v.name)
	p.last = v
}

// endLocked ends the current vertex in state s.
func (p *vertices) endLocked(s vertexState) {
	v := p.cur
	if v == nil {
		return
	}
	p.cur = nil
	if len(v.partial) > 0 {
		p.lineLocked(v, v.partial)
		v.partial = nil
	}
	v.state, v.dur = s, time.Since(v.start)
	if p.tty {
		return
	}
	p.headerLocked(v)
	switch s {
	case vertexCached:
		fmt.Fprintf(p.w, "#%d CACHED\n", v.index)
	case vertexFailed:
		fmt.Fprintf(p.w, "#%d ERROR: %s\n", v.index, v.err)
	case vertexCanceled:
		fmt.Fprintf(p.w, "#%d CANCELED\n", v.index)
	default:
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n", v.index, v.dur.Seconds())
	}
}

// lineLocked is one line of v's output, stamped with the time since v
// started as BuildKit stamps it (three decimals below 10 s, two below
// 100 s, one above).
func (p *vertices) lineLocked(v *vertex, line []byte) {
	sec := time.Since(v.start).Seconds()
	prec := 1
	if sec < 10 {
		prec = 3
	} else if sec < 100 {
		prec = 2
	}
	l := fmt.Appendf(nil, "%.*f %s", prec, sec, line)
	v.logs = append(v.logs, l)
	if len(v.logs) > logKeep {
		v.logs = v.logs[len(v.logs)-logKeep:]
	}
	if !p.tty {
		p.headerLocked(v)
		fmt.Fprintf(p.w, "#%d %s\n", v.index, l)
	}
}

// vertexLog is a vertex's output stream.
type vertexLog struct {
	p *vertices
	v *vertex
}

func (l vertexLog) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.v.partial = append(l.v.partial, b...)
			break
		}
		line := append(l.v.partial, b[:i]...)
		l.v.partial = nil
		l.p.lineLocked(l.v, bytes.TrimSuffix(line, []byte("\r")))
		b = b[i+1:]
	}
	return n, nil
}

// statusLog is a vertex's status lines (pull progress).
type statusLog struct {
	p *vertices
	v *vertex
}

func (l statusLog) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	for _, s := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		s = strings.TrimSpace(s[strings.LastIndexByte(s, '\r')+1:])
		if s == "" {
			continue
		}
		l.v.statuses = append(l.v.statuses, s)
		if !l.p.tty {
			l.p.headerLocked(l.v)
			fmt.Fprintf(l.p.w, "#%d %s\n", l.v.index, s)
		}
	}
	return len(b), nil
}

// buildkit reports in BuildKit's way, through vertices.
type buildkit struct {
	p *vertices
	// stage numbering: the prefix ([name i/n]) of the stage's steps.
	prefix func() string
}

func (b *buildkit) step(text, name string) {
	switch {
	case name == "":
	case text == "":
		// A vertex of BuildKit's own ([internal], exporting): not one
		// of the stage's steps.
		b.p.open(name)
	default:
		b.p.open(b.prefix() + name)
	}
}
func (b *buildkit) base(string)    {}
func (b *buildkit) triggers(int)   {}
func (b *buildkit) running(string) {}
func (b *buildkit) removed(string) {}
func (b *buildkit) committed(string) {
	b.p.mu.Lock()
	b.p.endLocked(vertexDone)
	b.p.mu.Unlock()
}
func (b *buildkit) cached(string) {
	b.p.mu.Lock()
	b.p.endLocked(vertexCached)
	b.p.mu.Unlock()
}
func (b *buildkit) output() io.Writer {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	if b.p.cur == nil {
		return io.Discard
	}
	return vertexLog{p: b.p, v: b.p.cur}
}
func (b *buildkit) status() io.Writer {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	if b.p.cur == nil {
		return io.Discard
	}
	return statusLog{p: b.p, v: b.p.cur}
}
func (b *buildkit) internal(name string, lines ...string) {
	v := b.p.open("[internal] " + name)
	w := statusLog{p: b.p, v: v}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	b.committed("")
}
func (b *buildkit) warn(msg string) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	if b.p.tty {
		b.p.clearLocked()
		fmt.Fprintf(b.p.w, "WARNING: %s\n", msg)
		b.p.drawn = 0
		return
	}
	if b.p.last != nil {
		fmt.Fprintln(b.p.w)
	}
	fmt.Fprintf(b.p.w, "WARNING: %s\n", msg)
	b.p.last = nil
}

func (b *buildkit) fail(err error, where []parser.Range) {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.cur
	if v == nil {
		return
	}
	state := vertexFailed
	v.err = bkError(err)
	if errors.Is(err, errCanceled) {
		state = vertexCanceled
	}
	p.endLocked(state)
	if state == vertexCanceled {
		return
	}
	if p.tty {
		p.drawLocked(true)
	}
	// The summary under the steps, as BuildKit prints it: the step's
	// last lines and where it is in the Dockerfile.
	fmt.Fprintln(p.w, "------")
	fmt.Fprintf(p.w, " > %s:\n", v.name)
	for _, l := range v.logs {
		fmt.Fprintf(p.w, "%s\n", l)
	}
	fmt.Fprintln(p.w, "------")
	printExcerpt(p.w, p.df, where)
}

// errCanceled marks a build stopped by its context.
var errCanceled = errors.New("canceled")

// bkError is err in BuildKit's words where they differ from the classic
// builder's.
func bkError(err error) string {
	var re *RunError
	if errors.As(err, &re) && re.Err == nil {
		return fmt.Sprintf("process %q did not complete successfully: exit code: %d", re.Command, re.Code)
	}
	return err.Error()
}

// printExcerpt prints the lines of the Dockerfile around where, the
// lines of the instruction marked >>>, as BuildKit does under an error.
func printExcerpt(w io.Writer, df dfSource, where []parser.Range) {
	if len(where) == 0 || df.content == nil {
		return
	}
	lines := strings.Split(string(df.content), "\n")
	start, end := where[0].Start.Line, max(where[0].End.Line, where[0].Start.Line)
	for _, r := range where[1:] {
		start, end = min(start, r.Start.Line), max(end, r.End.Line)
	}
	if start < 1 || start > len(lines) {
		return
	}
	end = min(end, len(lines))
	first, last := start, end
	pad := 2
	if start == end {
		pad = 4
	}
	for n := 0; n < pad; {
		if first > 1 {
			first--
			n++
		}
		if last < len(lines) {
			last++
			n++
		}
		n++
	}
	fmt.Fprintf(w, "%s:%d\n--------------------\n", df.name, start)
	for i := first; i <= last; i++ {
		mark := "   "
		if i >= start && i <= end {
			mark = ">>>"
		}
		fmt.Fprintf(w, " %3d | %s %s\n", i, mark, lines[i-1])
	}
	fmt.Fprintln(w, "--------------------")
}

func (b *buildkit) built(string) {}

// tagged is BuildKit's last vertex: the image written and named.
func (b *buildkit) tagged(names []string) {}

func (b *buildkit) close() {
	p := b.p
	p.mu.Lock()
	p.endLocked(vertexDone)
	p.mu.Unlock()
	if p.tty {
		close(p.stop)
		<-p.done
	}
}

// stagePrefix is BuildKit's "[name i/n] " before a stage's steps: the
// stage's name (stage-N for an unnamed one, none in a one-stage
// Dockerfile) and the step's number among the steps of the stage that
// make a vertex, padded to the width of their count.
func stagePrefix(name string, i, n int) string {
	if n == 0 {
		return ""
	}
	out := "["
	if name != "" {
		out += name + " "
	}
	return out + fmt.Sprintf("%*d/%d] ", int(1+math.Log10(float64(n))), i, n)
}

// The terminal view.

// redraw draws the view every 100 ms until close.
func (p *vertices) redraw() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.drawLocked(true)
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			p.drawLocked(false)
			p.mu.Unlock()
		}
	}
}

// clearLocked moves the cursor back over the last drawing.
func (p *vertices) clearLocked() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\r", p.drawn)
	}
}

// drawLocked draws the header, every step with its time and, under the
// step running, its last lines. final draws the finished view.
func (p *vertices) drawLocked(final bool) {
	if p.over {
		return
	}
	cols, rows := 80, 24
	if p.width != nil {
		if c, r := p.width(); c > 0 {
			cols, rows = c, r
		}
	}
	var out []string
	done := 0
	for _, v := range p.list {
		if v.state != vertexRunning {
			done++
		}
	}
	head := fmt.Sprintf("[+] Building %.1fs (%d/%d)", time.Since(p.started).Seconds(), done, len(p.list))
	if final && p.cur == nil {
		head += " FINISHED"
	}
	out = append(out, head)
	var body []string
	for _, v := range p.list {
		d := v.dur
		if v.state == vertexRunning {
			d = time.Since(v.start)
		}
		timer := fmt.Sprintf(" %.1fs", d.Seconds())
		name := v.name
		switch v.state {
		case vertexCached:
			name = "CACHED " + name
		case vertexFailed:
			name = "ERROR " + name
		case vertexCanceled:
			name = "CANCELED " + name
		}
		left := cols - 4 - len(timer) - 1
		if left < 10 {
			left = 10
		}
		if len(name) > left {
			name = name[:left]
		}
		body = append(body, fmt.Sprintf(" => %-*s%s", left, name, timer))
		if v.state == vertexRunning && !final {
			if len(v.statuses) > 0 {
				body = append(body, cut(" => => "+v.statuses[len(v.statuses)-1], cols-1))
			}
			logs := v.logs
			if len(logs) > 6 {
				logs = logs[len(logs)-6:]
			}
			for _, l := range logs {
				body = append(body, cut(" => => # "+string(l), cols-1))
			}
		}
	}
	// The newest lines when the terminal is too short for all.
	if room := rows - 2; room > 0 && len(body) > room {
		body = body[len(body)-room:]
	}
	out = append(out, body...)
	var buf bytes.Buffer
	if p.drawn > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA\r", p.drawn)
	}
	for _, l := range out {
		buf.WriteString(l)
		buf.WriteString("\x1b[K\n")
	}
	// Lines the last drawing had below this one are cleared.
	for i := len(out); i < p.drawn; i++ {
		buf.WriteString("\x1b[K\n")
	}
	if extra := p.drawn - len(out); extra > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA", extra)
	}
	_, _ = p.w.Write(buf.Bytes())
	p.drawn = len(out)
	if final {
		p.drawn, p.over = 0, true
	}
}

// cut shortens s to n bytes, on a character boundary, without control
// characters a program's output could move the cursor with.
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xc0) == 0x80 {
		n--
	}
	return s[:n]
}

// current is the vertex open, nil for none.
func (p *vertices) current() *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// countingReader counts what passes through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// humanBytes is a size as BuildKit prints it (decimal units).
func humanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if f < 1000 || u == "GB" {
			if u == "B" {
				return fmt.Sprintf("%dB", n)
			}
			return fmt.Sprintf("%.2f%s", f, u)
		}
		f /= 1000
	}
	return ""
}
