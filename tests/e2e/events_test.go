//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// eventMsg is Docker's events.Message as --format '{{json .}}' prints it.
type eventMsg struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

func (m eventMsg) String() string {
	return fmt.Sprintf("%s %s %s %v", m.Type, m.Action, m.Actor.Attributes["name"], m.Actor.Attributes)
}

// follow starts `lodger events ARGS` and returns its events as they come.
func followEvents(t *testing.T, e *env, args ...string) (<-chan eventMsg, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := e.command(ctx, append([]string{"events", "--format", "{{json .}}"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan eventMsg, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m eventMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("events printed %q: %v", sc.Text(), err)
				continue
			}
			ch <- m
		}
	}()
	stop := func() {
		// Killed mid-stream, as a user's Ctrl-C or a script's kill.
		_ = cmd.Process.Kill()
		cancel()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	return ch, stop
}

// collect reads events until one matches last, or 20 s pass.
func collect(t *testing.T, ch <-chan eventMsg, last func(eventMsg) bool) []eventMsg {
	t.Helper()
	var got []eventMsg
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("events ended early after %v", got)
			}
			got = append(got, m)
			if last(m) {
				return got
			}
		case <-deadline:
			t.Fatalf("events so far %v: the last one expected never came", got)
		}
	}
}

// of picks name's events' actions.
func actionsOf(ms []eventMsg, name string) []string {
	var out []string
	for _, m := range ms {
		if m.Type == "container" && m.Actor.Attributes["name"] == name {
			out = append(out, m.Action)
		}
	}
	return out
}

// TestEvents follows the journal while containers and images change,
// as a script reading docker events would (issue 13).
func TestEvents(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	ch, stop := followEvents(t, e)
	time.Sleep(500 * time.Millisecond) // the follower starts at the journal's end
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "fg", "--label", "tier=front", busybox, "sh", "-c", "exit 3"), 3)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "bg", busybox, "sleep", "30"), 0)
	wantCode(t, e.lodger(t, "stop", "-t", "1", "bg"), 0)
	wantCode(t, e.lodger(t, "rm", "bg"), 0)
	wantCode(t, e.lodger(t, "tag", busybox, "localhost/mine:v1"), 0)
	wantCode(t, e.lodger(t, "rmi", "localhost/mine:v1"), 0)
	got := collect(t, ch, func(m eventMsg) bool { return m.Type == "image" && m.Action == "untag" })
	stop()

	if diff := strings.Join(actionsOf(got, "fg"), ","); diff != "create,start,die" {
		t.Errorf("fg's events %s, want create,start,die\n%v", diff, got)
	}
	// Docker's stop of a pid 1 that ignores TERM: kill 15, kill 9, die, stop.
	if diff := strings.Join(actionsOf(got, "bg"), ","); diff != "create,start,kill,kill,die,stop,destroy" {
		t.Errorf("bg's events %s, want create,start,kill,kill,die,stop,destroy\n%v", diff, got)
	}
	var image []string
	for _, m := range got {
		switch {
		case m.Type == "container" && m.Action == "die" && m.Actor.Attributes["name"] == "fg":
			if m.Actor.Attributes["exitCode"] != "3" || m.Actor.Attributes["tier"] != "front" || m.Actor.Attributes["image"] != busybox {
				t.Errorf("fg's die %v, want exitCode 3, its label and image", m)
			}
			if len(m.Actor.ID) != 64 || m.Scope != "local" || m.Time != m.TimeNano/1e9 || time.Since(time.Unix(m.Time, 0)) > time.Minute {
				t.Errorf("die event %+v: want the full ID, scope local, time and timeNano of now", m)
			}
		case m.Type == "container" && m.Action == "kill":
			if s := m.Actor.Attributes["signal"]; s != "15" && s != "9" {
				t.Errorf("kill event %v, want signal 15 or 9", m)
			}
		case m.Type == "image":
			image = append(image, m.Action+" "+m.Actor.Attributes["name"])
		}
	}
	if diff := strings.Join(image, ","); diff != "tag localhost/mine:v1,untag localhost/mine:v1" {
		t.Errorf("image events %s, want the tag and the untag", diff)
	}

	// The past, filtered, in Docker's default line; --until ends the stream.
	r := e.lodger(t, "events", "--since", "2m", "--until", "0s", "--filter", "container=fg", "--filter", "event=die")
	wantCode(t, r, 0)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\S* container die [0-9a-f]{64} \(exitCode=3, image=\S+, name=fg, tier=front\)\n$`).MatchString(r.stdout) {
		t.Errorf("%s\nwant fg's one die event in Docker's line", r)
	}
	r = e.lodger(t, "events", "--since", "2m", "--until", "0s", "--filter", "type=image", "--format", "{{.Action}}")
	wantStdout(t, r, "pull\ntag\nuntag\n")
	wantError(t, e.lodger(t, "events", "--filter", "colour=red"), 1, "colour")
	wantCode(t, e.lodger(t, "rm", "fg"), 0)
	wantNothingLeft(t, e)
}
