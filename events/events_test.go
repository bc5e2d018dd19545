package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/events"
)

func msg(t events.Type, action, id string, attrs map[string]string) Message {
	return Message{Type: t, Action: events.Action(action), Actor: events.Actor{ID: id, Attributes: attrs}}
}

func TestFilter(t *testing.T) {
	create := msg(Container, "create", "abcdef0123456789", map[string]string{"name": "web", "image": "busybox", "tier": "front"})
	healthy := msg(Container, "health_status: healthy", "abcdef0123456789", map[string]string{"name": "web", "image": "busybox"})
	pull := msg(Image, "pull", "busybox:latest", map[string]string{"name": "busybox:latest"})
	for _, tc := range []struct {
		filter []string
		want   []bool // create, healthy, pull
	}{
		{nil, []bool{true, true, true}},
		{[]string{"type=container"}, []bool{true, true, false}},
		{[]string{"type=image"}, []bool{false, false, true}},
		{[]string{"event=create", "event=pull"}, []bool{true, false, true}},
		{[]string{"event=health_status"}, []bool{false, true, false}},
		{[]string{"event=health_status: healthy"}, []bool{false, true, false}},
		{[]string{"container=web"}, []bool{true, true, false}},
		{[]string{"container=abcdef"}, []bool{true, true, false}},
		{[]string{"container=other"}, []bool{false, false, false}},
		{[]string{"image=busybox"}, []bool{true, true, false}},
		{[]string{"image=busybox:latest"}, []bool{false, false, true}},
		{[]string{"label=tier"}, []bool{true, false, false}},
		{[]string{"label=tier=front", "type=container"}, []bool{true, false, false}},
		{[]string{"label=tier=back"}, []bool{false, false, false}},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{f.Match(create), f.Match(healthy), f.Match(pull)}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("filter %q (-want +got):\n%s", tc.filter, diff)
		}
	}
	// Volume and network events by their name; scope.
	vol := msg(Volume, "mount", "data", map[string]string{"container": "abcdef", "driver": "local"})
	net := msg(Network, "connect", "0123abcd", map[string]string{"name": "front", "container": "abcdef"})
	for _, tc := range []struct {
		filter   []string
		vol, net bool
	}{
		{[]string{"volume=data"}, true, false},
		{[]string{"volume=other"}, false, false},
		{[]string{"network=front"}, false, true},
		{[]string{"network=0123"}, false, true},
		{[]string{"type=volume"}, true, false},
		{[]string{"scope=local"}, false, false}, // unstamped: no scope yet
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(vol) != tc.vol || f.Match(net) != tc.net {
			t.Errorf("filter %q: volume %v network %v, want %v %v", tc.filter, f.Match(vol), f.Match(net), tc.vol, tc.net)
		}
	}
	for _, bad := range []string{"colour=red", "type", "event="} {
		if _, err := ParseFilter([]string{bad}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("ParseFilter(%q) = %v, want ErrBadFilter", bad, err)
		}
	}
}

func actions(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Action))
	}
	return out
}

func TestJournal(t *testing.T) {
	path := Path(t.TempDir())
	j := Open(path)
	before := time.Now()
	j.Emit(Container, "create", "id1", map[string]string{"name": "a"})
	j.Emit(Container, "start", "id1", nil)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	// Docker's JSON shape, as events --format '{{json .}}' prints it.
	if !strings.HasPrefix(first, `{"Type":"container","Action":"create","Actor":{"ID":"id1","Attributes":{"name":"a"}},"scope":"local","time":`) ||
		!strings.Contains(first, `,"timeNano":`) {
		t.Errorf("journal line %s, want Docker's events.Message", first)
	}
	var got []Message
	err = Read(context.Background(), path, ReadOptions{Since: before.Add(-time.Second), Until: time.Now()}, func(m Message) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create", "start"}, actions(got)); diff != "" {
		t.Errorf("since..until (-want +got):\n%s", diff)
	}
	if got[0].Time != got[0].TimeNano/1e9 || got[0].Scope != "local" {
		t.Errorf("time %d, timeNano %d, scope %q", got[0].Time, got[0].TimeNano, got[0].Scope)
	}
}

// Writers of many processes (goroutines here) never interleave lines,
// and the journal stays within two files of MaxSize.
func TestJournalRotation(t *testing.T) {
	path := Path(t.TempDir())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := Open(path)
			for i := range 2000 {
				j.Emit(Container, "start", fmt.Sprintf("writer%d-%d", w, i), map[string]string{"pad": strings.Repeat("x", 200)})
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, p := range []string{path + ".1", path} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > MaxSize {
			t.Fatalf("%s: %v, want a file within MaxSize", p, err)
		}
		if err := readFile(p, func(m Message) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if lines := strings.Count(string(b), "\n"); lines == 0 {
			t.Errorf("%s is empty", p)
		}
	}
	if n == 0 {
		t.Fatal("no event read back")
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Errorf("a third journal file exists")
	}
}

// A follower without --since sees only what is written after it starts,
// across a rotation, until its context ends.
func TestFollow(t *testing.T) {
	path := Path(t.TempDir())
	j := Open(path)
	j.Emit(Container, "old", "x", nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- Read(ctx, path, ReadOptions{Poll: time.Millisecond, Filter: Filter{"type": {"container"}}}, func(m Message) error {
			got <- string(m.Action)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	j.Emit(Container, "create", "x", nil)
	j.Emit(Image, "pull", "busybox", nil)
	if err := os.Rename(path, path+".1"); err != nil { // as a rotation does
		t.Fatal(err)
	}
	j.Emit(Container, "die", "x", nil)
	var seen []string
	for len(seen) < 2 {
		select {
		case a := <-got:
			seen = append(seen, a)
		case <-time.After(5 * time.Second):
			t.Fatalf("follower saw %q, want create and die", seen)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Read at cancel: %v", err)
	}
	if diff := cmp.Diff([]string{"create", "die"}, seen); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}
