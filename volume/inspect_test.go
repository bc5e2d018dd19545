package volume

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReport(t *testing.T) {
	v := Volume{Name: "data", Driver: "local", Mountpoint: "/v/data/_data", Anonymous: true,
		CreatedAt: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC), Labels: map[string]string{"a": "b"}}
	b, err := json.Marshal(v.Report())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Name": "data", "Driver": "local", "Mountpoint": "/v/data/_data",
		"CreatedAt": "2026-12-06T08:00:00Z", "Scope": "local", "Options": map[string]any{},
		"Labels": map[string]any{"a": "b", "com.docker.volume.anonymous": ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("volume inspect (-want +got):\n%s", diff)
	}
}
