package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testRows = []psRow{
	{ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "web", Image: "busybox",
		Command: "sh -c while true; do sleep 1; done", Created: time.Now().Add(-time.Minute), State: "running",
		Status: "Up 1 minutes", Labels: map[string]string{"b": "2", "a": "1"}, Volumes: []string{"data"}},
	{ID: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", Name: "job", Image: "alpine:3",
		Command: "true", Created: time.Now().Add(-time.Hour), State: "exited", Status: "Exited (0) 1 hours ago"},
}

func render(t *testing.T, format string, trunc bool) string {
	t.Helper()
	p, err := newPsPrinter(format, trunc)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.print(&b, testRows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPsTemplates(t *testing.T) {
	tests := []struct {
		name, format string
		trunc        bool
		want         string
	}{
		{"plain template", "{{.ID}} {{.Names}} {{.State}}", true, "0123456789ab web running\nfedcba987654 job exited\n"},
		{"no-trunc", "{{.ID}}", false, testRows[0].ID + "\n" + testRows[1].ID + "\n"},
		{"labels", `{{.Labels}}|{{.Label "b"}}|{{.Mounts}}`, true, "a=1,b=2|2|data\n||\n"},
		{"command quoted and cut", "{{.Command}}", true, "\"sh -c while true; d…\"\n\"true\"\n"},
		{"command whole", "{{.Command}}", false, "\"sh -c while true; do sleep 1; done\"\n\"true\"\n"},
		{"functions", `{{upper .Names}} {{truncate .Image 3}} {{join (split .Image ":") "@"}}`, true, "WEB bus busybox\nJOB alp alpine@3\n"},
		{"table", `table {{.Names}}\t{{.Image}}`, true, "NAMES   IMAGE\nweb     busybox\njob     alpine:3\n"},
		{"table with a real tab", "table {{.ID}}\t{{.Status}}", true, "CONTAINER ID   STATUS\n0123456789ab   Up 1 minutes\nfedcba987654   Exited (0) 1 hours ago\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, render(t, tt.format, tt.trunc)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPsDefaultTable(t *testing.T) {
	for _, format := range []string{"", "table"} {
		out := render(t, format, true)
		ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(ls) != 3 || !strings.HasPrefix(ls[0], "CONTAINER ID") || !strings.HasSuffix(ls[0], "NAMES") ||
			!strings.HasPrefix(ls[1], "0123456789ab ") || !strings.HasSuffix(ls[1], " web") ||
			!strings.Contains(ls[1], "About a minute ago") {
			t.Errorf("--format %q:\n%s", format, out)
		}
	}
}

func TestPsJSONTemplate(t *testing.T) {
	var got map[string]string
	line := strings.Split(render(t, "{{json .}}", true), "\n")[0]
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if got["ID"] != "0123456789ab" || got["Names"] != "web" || got["Labels"] != "a=1,b=2" {
		t.Errorf("{{json .}} = %s", line)
	}
}

func TestPsBadTemplate(t *testing.T) {
	if _, err := newPsPrinter("{{.ID", true); err == nil {
		t.Error("unterminated template accepted")
	}
	p, err := newPsPrinter("{{.Nosuch}}", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.print(&bytes.Buffer{}, testRows); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("unknown field: %v, want a --format error", err)
	}
}
