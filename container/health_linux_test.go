package container

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/container/health"
)

func TestHealthConfig(t *testing.T) {
	raw := []byte(`{"architecture":"amd64","config":{"Cmd":["sh"],"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost"],"Interval":10000000000,"Retries":5,"StartPeriod":2000000000}}}`)
	image := imageHealthcheck(raw)
	want := &health.Config{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: 10 * time.Second, Retries: 5, StartPeriod: 2 * time.Second}
	if diff := cmp.Diff(want, image); diff != "" {
		t.Fatalf("imageHealthcheck (-want +got):\n%s", diff)
	}
	if imageHealthcheck([]byte(`{"config":{"Cmd":["sh"]}}`)) != nil || imageHealthcheck([]byte(`not json`)) != nil {
		t.Error("a configuration without HEALTHCHECK gave one")
	}
	for _, tc := range []struct {
		name  string
		opts  HealthOptions
		image *health.Config
		want  *health.Config
	}{
		{"none at all", HealthOptions{}, nil, nil},
		{"flags only", HealthOptions{Cmd: "true", Retries: 2}, nil, &health.Config{Test: []string{"CMD-SHELL", "true"}, Retries: 2}},
		{"image's", HealthOptions{}, image, want},
		{"image's with an interval of the user's", HealthOptions{Interval: time.Second}, image,
			&health.Config{Test: want.Test, Interval: time.Second, Retries: 5, StartPeriod: 2 * time.Second}},
		{"the user's command replaces the image's", HealthOptions{Cmd: "true"}, image, &health.Config{Test: []string{"CMD-SHELL", "true"}}},
		{"--no-healthcheck", HealthOptions{None: true}, image, nil},
		{"image's NONE", HealthOptions{}, &health.Config{Test: []string{"NONE"}}, nil},
	} {
		got, err := tc.opts.config(tc.image)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := (HealthOptions{None: true, Cmd: "true"}).config(nil); err == nil {
		t.Error("--no-healthcheck with --health-cmd accepted")
	}
}
