package image

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChanges(t *testing.T) {
	base := func() imgspecv1.ImageConfig {
		return imgspecv1.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=old"}, WorkingDir: "/srv"}
	}
	tests := []struct {
		name    string
		changes []string
		want    func(*imgspecv1.ImageConfig)
	}{
		{"cmd json", []string{`CMD ["echo", "hi there"]`}, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"echo", "hi there"} }},
		{"cmd shell", []string{`CMD echo "$HOME"`}, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"/bin/sh", "-c", `echo "$HOME"`} }},
		{"cmd bad json is shell", []string{`CMD [oops`}, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"/bin/sh", "-c", "[oops"} }},
		{"podman form", []string{`CMD=["top"]`}, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"top"} }},
		{"lower case", []string{`cmd ["top"]`}, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"top"} }},
		{"entrypoint drops cmd", []string{`ENTRYPOINT ["/bin/app"]`}, func(c *imgspecv1.ImageConfig) { c.Entrypoint, c.Cmd = []string{"/bin/app"}, nil }},
		{"entrypoint keeps given cmd", []string{`CMD ["-v"]`, `ENTRYPOINT ["/bin/app"]`}, func(c *imgspecv1.ImageConfig) { c.Entrypoint, c.Cmd = []string{"/bin/app"}, []string{"-v"} }},
		{"env pairs", []string{`ENV A=new B="two words" C=x\ y`}, func(c *imgspecv1.ImageConfig) {
			c.Env = []string{"PATH=/bin", "A=new", "B=two words", "C=x y"}
		}},
		{"env legacy", []string{`ENV GREETING hello world`}, func(c *imgspecv1.ImageConfig) { c.Env = append(c.Env, "GREETING=hello world") }},
		{"label", []string{`LABEL a=1 "b c"=2`, `LABEL legacy value here`}, func(c *imgspecv1.ImageConfig) {
			c.Labels = map[string]string{"a": "1", "b c": "2", "legacy": "value here"}
		}},
		{"expose", []string{`EXPOSE 80 53/udp 8000-8001/TCP`}, func(c *imgspecv1.ImageConfig) {
			c.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
		}},
		{"workdir", []string{`WORKDIR sub`, `WORKDIR ../other`}, func(c *imgspecv1.ImageConfig) { c.WorkingDir = "/srv/other" }},
		{"workdir absolute", []string{`WORKDIR /data/`}, func(c *imgspecv1.ImageConfig) { c.WorkingDir = "/data" }},
		{"user", []string{`USER 1000:1000`}, func(c *imgspecv1.ImageConfig) { c.User = "1000:1000" }},
		{"volume", []string{`VOLUME ["/a", "/b"]`, `VOLUME /c`}, func(c *imgspecv1.ImageConfig) {
			c.Volumes = map[string]struct{}{"/a": {}, "/b": {}, "/c": {}}
		}},
		{"stopsignal", []string{`STOPSIGNAL SIGINT`}, func(c *imgspecv1.ImageConfig) { c.StopSignal = "SIGINT" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := ParseChanges(tt.changes)
			if err != nil {
				t.Fatal(err)
			}
			got, want := base(), base()
			ApplyChanges(&got, changes)
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ApplyChanges(%q) (-want +got):\n%s", tt.changes, diff)
			}
		})
	}
}

func TestParseChangesErrors(t *testing.T) {
	for _, bad := range []string{"RUN echo hi", "FROM scratch", "CMD", "ENV", "ENV =x", "ENV A=1 =2", "EXPOSE http", "EXPOSE 0",
		"EXPOSE 70000", "EXPOSE 80/xyz", "EXPOSE 90-80", `LABEL a="open`, "ONBUILD RUN x", ""} {
		if _, err := ParseChanges([]string{bad}); !errors.Is(err, ErrChange) {
			t.Errorf("ParseChanges(%q) = %v; want ErrChange", bad, err)
		}
	}
}
