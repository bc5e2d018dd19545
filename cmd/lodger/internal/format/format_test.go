package format

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type row struct {
	id, name string
	labels   map[string]string
}

func (r row) ID() string            { return r.id }
func (r row) Names() string         { return r.name }
func (r row) Label(k string) string { return r.labels[k] }
func (r row) CreatedAt() string     { return "2026-12-06 08:00:00 +0000 UTC" }
func (r row) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"ID": r.id, "Names": r.name})
}

var headers = map[string]string{"ID": "CONTAINER ID", "Names": "NAMES", "Label": "LABEL"}

const def = "table {{.ID}}\t{{.Names}}"

var rows = []row{{"abc", "web", map[string]string{"tier": "front"}}, {"defdef", "db", nil}}

func render(t *testing.T, value string) string {
	t.Helper()
	f, err := Parse(value, def, headers)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, Rows(rows)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFormats(t *testing.T) {
	tests := []struct{ value, want string }{
		{"", "CONTAINER ID   NAMES\nabc            web\ndefdef         db\n"},
		{"table", "CONTAINER ID   NAMES\nabc            web\ndefdef         db\n"},
		{`table {{.Names}}\t{{.Label "tier"}}`, "NAMES   LABEL\nweb     front\ndb      \n"},
		{"table {{.CreatedAt}}", "CREATED AT\n2026-12-06 08:00:00 +0000 UTC\n2026-12-06 08:00:00 +0000 UTC\n"},
		{"{{.Names}}", "web\ndb\n"},
		{`{{.ID}}:{{.Names}}`, "abc:web\ndefdef:db\n"},
		{"json", "{\"ID\":\"abc\",\"Names\":\"web\"}\n{\"ID\":\"defdef\",\"Names\":\"db\"}\n"},
		// A word that merely starts with "table" is a template, not a table.
		{"tablet {{.Names}}", "tablet web\ntablet db\n"},
		{`table {{upper .Names}} x`, "NAMES x\nWEB x\nDB x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, render(t, tt.value)); diff != "" {
				t.Errorf("--format %q (-want +got):\n%s", tt.value, diff)
			}
		})
	}
}

func TestFuncs(t *testing.T) {
	v := map[string]any{"s": "hello big world", "l": []string{"a", "b"}, "c": "a,b,c", "m": map[string]string{"k": "<v>"}}
	tests := []struct{ tmpl, want string }{
		{`{{json .l}}`, `["a","b"]`},
		{`{{json .m}}`, `{"k":"<v>"}`},
		{`{{join .l ", "}}`, "a, b"},
		{`{{split .c ","}}`, "[a b c]"},
		{`{{index (split .c ",") 1}}`, "b"},
		{`{{lower "ABC"}}`, "abc"},
		{`{{upper .s}}`, "HELLO BIG WORLD"},
		{`{{title .s}}`, "Hello Big World"},
		{`{{truncate .s 5}}`, "hello"},
		{`{{truncate "ab" 5}}`, "ab"},
		{`{{pad "x" 2 3}}|`, "  x   |"},
		{`{{println .s}}`, "hello big world\n"},
		{`a\tb\nc`, "a\tb\nc"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tm, err := New(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Execute(&b, tm, v); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want+"\n" {
				t.Errorf("%s: %q, want %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	f, err := Parse("{{.Nosuch}}", def, headers)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = f.Write(&b, Rows(rows))
	const want = `template: :1:2: executing "" at <.Nosuch>: can't evaluate field Nosuch in type format.row`
	if err == nil || err.Error() != want {
		t.Errorf("unknown field: %v, want %s", err, want)
	}
	if b.Len() != 0 {
		t.Errorf("unknown field: printed %q before the error", b.String())
	}
	if _, err := Parse("{{.ID", def, headers); err == nil || !strings.HasPrefix(err.Error(), "template parsing error: template: :1: unclosed action") {
		t.Errorf("unclosed action: %v", err)
	}
}

type report struct {
	ID    string `json:"Id"`
	State struct{ Running bool }
	Extra struct{ MonitorPid int } `json:"Lodger"`
}

func TestInspect(t *testing.T) {
	var r report
	r.ID, r.State.Running, r.Extra.MonitorPid = "abc", true, 42
	tests := []struct{ tmpl, want, err string }{
		{"{{.ID}}", "abc\n", ""},
		{"{{.Id}}", "abc\n", ""}, // the JSON name, as Docker's raw fallback
		{"{{.State.Running}}", "true\n", ""},
		{"{{.Lodger.MonitorPid}}", "42\n", ""},
		{"{{json .State}}", "{\"Running\":true}\n", ""},
		{"{{.Nosuch}}", "", "can't evaluate field Nosuch in type format.report"},
		{"{{.State.Nosuch}}", "", "can't evaluate field Nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tm, err := New(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			err = Inspect(&b, tm, r)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("%s: %v, want an error with %q", tt.tmpl, err, tt.err)
				}
				return
			}
			if err != nil || b.String() != tt.want {
				t.Errorf("%s: %q, %v; want %q", tt.tmpl, b.String(), err, tt.want)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	for in, want := range map[string]string{"CreatedAt": "CREATED AT", "ID": "ID", "RunningFor": "RUNNING FOR", "Size": "SIZE"} {
		if got := Title(in); got != want {
			t.Errorf("Title(%q) = %q, want %q", in, got, want)
		}
	}
}
