package container

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/monitor"
	lnetwork "github.com/lodger-containers/lodger/network"
)

func TestParseFiltersErrors(t *testing.T) {
	for _, bad := range []string{"name", "bogus=1", "status=sleeping", "name=(", "label=", "label==v", "ancestor=",
		"health=fine", "exited=x", "network="} {
		if _, err := ParseFilters([]string{bad}); err == nil {
			t.Errorf("ParseFilters(%q) accepted", bad)
		}
	}
}

// bridgeID is the predefined bridge network's ID.
func bridgeID(t *testing.T) string {
	t.Helper()
	n, err := lnetwork.New("").Get(lnetwork.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	return n.ID
}

func TestFilterMatch(t *testing.T) {
	three := 3
	web := Info{ID: "abc123def456", Name: "web", ImageID: "1111aaaa",
		State: monitor.State{Status: monitor.StatusRunning, Health: &health.State{Status: health.Healthy}},
		Metadata: Metadata{Image: "busybox", Labels: map[string]string{"tier": "front", "team": "a"},
			Network: &NetworkSettings{Mode: NetworkUser, Networks: []UserNetwork{{ID: "9f9f0000", Name: "back"}}}}}
	db := Info{ID: "abd999000111", Name: "db", ImageID: "2222bbbb", State: monitor.State{Status: monitor.StatusExited, ExitCode: &three},
		Metadata: Metadata{Image: "reg/postgres:16", Labels: map[string]string{"tier": "back"}, Network: &NetworkSettings{Mode: NetworkNetstack}}}
	job := Info{ID: "ffff00001111", Name: "webjob", ImageID: "1111aaaa", State: monitor.State{Status: monitor.StatusCreated},
		Metadata: Metadata{Image: "busybox:latest"}}
	all := []Info{web, db, job}
	tests := []struct {
		filters []string
		want    []string
	}{
		{nil, []string{"web", "db", "webjob"}},
		{[]string{"name=web"}, []string{"web", "webjob"}},
		{[]string{"name=^web$"}, []string{"web"}},
		{[]string{"name=^/db$"}, []string{"db"}},
		{[]string{"name=db", "name=job"}, []string{"db", "webjob"}},
		{[]string{"id=abc"}, []string{"web"}},
		{[]string{"id=ab"}, []string{"web", "db"}},
		{[]string{"id=abc", "id=ffff"}, []string{"web", "webjob"}},
		{[]string{"status=exited"}, []string{"db"}},
		{[]string{"status=exited", "status=created"}, []string{"db", "webjob"}},
		{[]string{"label=tier"}, []string{"web", "db"}},
		{[]string{"label=tier=front"}, []string{"web"}},
		// Labels, as in Docker, must all match.
		{[]string{"label=tier", "label=team=a"}, []string{"web"}},
		{[]string{"label=tier=front", "label=tier=back"}, nil},
		{[]string{"ancestor=busybox"}, []string{"web", "webjob"}},
		{[]string{"ancestor=1111"}, []string{"web", "webjob"}},
		{[]string{"ancestor=reg/postgres:16"}, []string{"db"}},
		{[]string{"ancestor=nosuch"}, nil},
		{[]string{"name=web", "status=created"}, []string{"webjob"}},
		{[]string{"label=tier", "status=running", "ancestor=busybox"}, []string{"web"}},
		// Docker's network (name or ID), health and exited filters.
		{[]string{"network=back"}, []string{"web"}},
		{[]string{"network=9f9f"}, []string{"web"}},
		{[]string{"network=bridge"}, []string{"db"}},
		// The default network by lodger's name and by the ID Docker's
		// clients get from network ls; web, on back alone, is on neither.
		{[]string{"network=netstack"}, []string{"db"}},
		{[]string{"network=" + bridgeID(t)[:12]}, []string{"db"}},
		{[]string{"health=healthy"}, []string{"web"}},
		{[]string{"health=none"}, []string{"db", "webjob"}},
		{[]string{"exited=3"}, []string{"db"}},
		{[]string{"exited=0"}, nil},
	}
	for _, tt := range tests {
		f, err := ParseFilters(tt.filters)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range all {
			if f.Match(in) {
				got = append(got, in.Name)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q matched (-want +got):\n%s", tt.filters, diff)
		}
	}
}

func TestFilterResolvedAncestor(t *testing.T) {
	f, err := ParseFilters([]string{"ancestor=localhost/busybox"})
	if err != nil {
		t.Fatal(err)
	}
	f.ResolveAncestors(func(ref string) (string, error) {
		if ref == "localhost/busybox" {
			return "1111aaaa", nil
		}
		return "", errors.New("no such image")
	})
	if !f.Match(Info{ImageID: "1111aaaa", Metadata: Metadata{Image: "busybox"}}) {
		t.Error("container of the resolved image not matched")
	}
	if f.Match(Info{ImageID: "2222bbbb", Metadata: Metadata{Image: "other"}}) {
		t.Error("container of another image matched")
	}
	if f.HasStatus() {
		t.Error("HasStatus without a status filter")
	}
}
