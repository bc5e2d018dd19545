package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/netstack/ports"
)

var testRows = []psRow{
	{ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "web", Image: "busybox",
		Command: "sh -c while true; do sleep 1; done", Created: time.Now().Add(-time.Minute), State: "running",
		Status: "Up 1 minutes", Labels: map[string]string{"b": "2", "a": "1"}, Volumes: []string{"data"},
		Ports: []ports.Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}, Network: "netstack", Size: 2048, Virtual: 4_270_000},
	{ID: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", Name: "job", Image: "alpine:3",
		Command: "true", Created: time.Now().Add(-time.Hour), State: "exited", Status: "Exited (0) 1 hours ago"},
}

func render(t *testing.T, value string, trunc bool) string {
	t.Helper()
	p, err := format.Parse(value, defaultPsFormat, psHeaders)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Write(&b, psViews(trunc)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func psViews(trunc bool) []any {
	var out []any
	for _, r := range testRows {
		out = append(out, psView{r: r, trunc: trunc})
	}
	return out
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
		{"ports, networks, size", "{{.Ports}}|{{.Networks}}|{{.Size}}|{{.LocalVolumes}}", true, "0.0.0.0:8080->80/tcp|netstack|2.05kB (virtual 4.27MB)|1\n||0B|0\n"},
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
	if _, err := format.Parse("{{.ID", defaultPsFormat, psHeaders); err == nil {
		t.Error("unterminated template accepted")
	}
	p, err := format.Parse("{{.Nosuch}}", defaultPsFormat, psHeaders)
	if err != nil {
		t.Fatal(err)
	}
	const want = `template: :1:2: executing "" at <.Nosuch>: can't evaluate field Nosuch in type main.psView`
	if err := p.Write(&bytes.Buffer{}, psViews(true)); err == nil || err.Error() != want {
		t.Errorf("unknown field: %v, want %s", err, want)
	}
}

func TestPsHeaders(t *testing.T) {
	out := render(t, `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.CreatedAt}}\t{{.Ports}}\t{{.Size}}\t{{.Networks}}\t{{.Mounts}}\t{{.Labels}}`, true)
	want := []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "CREATED AT", "PORTS", "SIZE", "NETWORKS", "MOUNTS", "LABELS"}
	got := regexp.MustCompile(` {2,}`).Split(strings.TrimSpace(strings.Split(out, "\n")[0]), -1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}
