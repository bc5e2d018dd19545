// Package format renders lodger's listings and inspect reports through
// --format values with Docker's semantics, so that scripts written for the
// docker CLI read lodger's output unchanged (issue 13):
//
//   - "" or "table": the command's default table, with headers;
//   - "table TEMPLATE": a Go template per row, with a header line derived
//     from the fields the template names (".ID" reads "CONTAINER ID" in ps,
//     "IMAGE ID" in images), columns aligned;
//   - "json": one JSON object per row and line, as Docker's CLI 23+;
//   - any other value: a Go template executed per row, without header.
//
// The template functions are Docker's documented ones: json, join, split,
// lower, upper, title, truncate, pad, and text/template's own println.
//
// It is front-end code: the Engine API serves JSON, not templates.
package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"text/template/parse"
	"unicode"
	"unicode/utf8"
)

// Format is a parsed --format value.
type Format struct {
	tmpl    *template.Template
	table   bool
	json    bool
	headers map[string]string
}

// Funcs are the template functions Docker documents for --format.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // Docker prints "<none>", not "\u003cnone\u003e"
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": title,
	"truncate": func(s string, n int) string {
		if r := []rune(s); n >= 0 && len(r) > n {
			return string(r[:n])
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", max(before, 0)) + s + strings.Repeat(" ", max(after, 0))
	},
}

// title upper-cases the first letter of each word, as Docker's title.
func title(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		if unicode.IsSpace(prev) {
			r = unicode.ToTitle(r)
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// Parse reads a --format value. def is the command's default table, a
// "table TEMPLATE" itself; headers names the columns of the fields
// (missing ones read as the field name in capitals, words apart).
func Parse(value, def string, headers map[string]string) (*Format, error) {
	f := &Format{headers: headers}
	switch value {
	case "json":
		f.json = true
		value = "{{json .}}"
	case "", "table":
		value = def
	}
	text, table := strings.CutPrefix(value, "table")
	if table && (text == "" || text[0] == ' ' || text[0] == '\t') {
		f.table = true
		value = strings.TrimLeft(text, " \t")
		if value == "" {
			value = strings.TrimLeft(strings.TrimPrefix(def, "table"), " ")
		}
	}
	t, err := New(value)
	if err != nil {
		return nil, err
	}
	f.tmpl = t
	return f, nil
}

// New parses a raw Go template with Docker's functions; \t and \n typed on
// a command line read as tab and newline, as in Docker.
func New(text string) (*template.Template, error) {
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	t, err := template.New("").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// JSON reports a "json" format.
func (f *Format) JSON() bool { return f.json }

// Table reports a table format (the default, or "table TEMPLATE").
func (f *Format) Table() bool { return f.table }

// Write renders rows, one template execution per row; a table gets its
// header first and aligned columns.
func (f *Format) Write(out io.Writer, rows []any) error {
	w := out
	var tw *tabwriter.Writer
	var b bytes.Buffer
	if f.table {
		tw = tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		w = tw
		b.WriteString(f.Header())
		b.WriteByte('\n')
	}
	for _, r := range rows {
		if err := f.tmpl.Execute(&b, r); err != nil {
			return err
		}
		b.WriteByte('\n')
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// Rows turns a typed slice into Write's.
func Rows[T any](s []T) []any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return out
}

// Execute renders one value (info, version) with a trailing newline.
func (f *Format) Execute(out io.Writer, v any) error {
	return Execute(out, f.tmpl, v)
}

// Execute renders v through t, then a newline, writing nothing on error.
func Execute(out io.Writer, t *template.Template, v any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := out.Write(b.Bytes())
	return err
}

// Inspect renders v as Docker's inspect does: through t on the typed
// value, and where that fails for a field the type lacks, on v's JSON
// object, so {{.Id}} works as well as {{.ID}} and lodger's own fields are
// reachable by their JSON names. A key missing from both is an error, as
// in Docker.
func Inspect(out io.Writer, t *template.Template, v any) error {
	var b bytes.Buffer
	err := t.Execute(&b, v)
	if err == nil {
		b.WriteByte('\n')
		_, err = out.Write(b.Bytes())
		return err
	}
	var ee template.ExecError
	if !errors.As(err, &ee) {
		return err
	}
	raw, merr := json.Marshal(v)
	if merr != nil {
		return err
	}
	var m any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return err
	}
	strict, cerr := t.Clone()
	if cerr != nil {
		return err
	}
	b.Reset()
	if ferr := strict.Option("missingkey=error").Execute(&b, m); ferr != nil {
		return err // the typed error names the type, as Docker's first attempt
	}
	b.WriteByte('\n')
	_, err = out.Write(b.Bytes())
	return err
}

// Header is the table's header line: the template's text with each action
// replaced by the title of the first field it names.
func (f *Format) Header() string {
	var b strings.Builder
	f.header(&b, f.tmpl.Tree.Root)
	return b.String()
}

func (f *Format) header(b *strings.Builder, n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			f.header(b, c)
		}
	case *parse.TextNode:
		b.Write(n.Text)
	case *parse.ActionNode:
		b.WriteString(f.title(n.Pipe))
	case *parse.IfNode:
		b.WriteString(f.title(n.Pipe))
	case *parse.RangeNode:
		b.WriteString(f.title(n.Pipe))
	case *parse.WithNode:
		b.WriteString(f.title(n.Pipe))
	}
}

// title is the header of the first field a pipeline names.
func (f *Format) title(p *parse.PipeNode) string {
	if p == nil {
		return ""
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			if fn, ok := a.(*parse.FieldNode); ok && len(fn.Ident) > 0 {
				return f.headerOf(fn.Ident[0])
			}
		}
	}
	return ""
}

func (f *Format) headerOf(field string) string {
	if h, ok := f.headers[field]; ok {
		return h
	}
	return Title(field)
}

// Title is a field name as a column title: "CreatedAt" reads "CREATED AT".
func Title(field string) string {
	var b strings.Builder
	prev := rune(0)
	for i, r := range field {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	return b.String()
}

// Truncate cuts s to n runes, ending with "…", as Docker's columns.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
