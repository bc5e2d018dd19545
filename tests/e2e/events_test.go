//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
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
	following(t, e, ch)
	return ch, stop
}

// following returns once the follower started on e prints what happens
// now: a follower starts at the journal's end, and a process that has
// not opened it yet (a loaded machine) would miss what the test does
// next. Each try creates a marker container until its create event
// comes; the markers are removed (their destroy events come later and
// match no test's names).
func following(t *testing.T, e *env, ch <-chan eventMsg) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i := 1; ; i++ {
		name := fmt.Sprintf("events-marker-%d", i)
		wantCode(t, e.lodger(t, "create", "-q", "--name", name, busybox, "true"), 0)
		seen := sawCreate(t, ch, name, time.Second)
		wantCode(t, e.lodger(t, "rm", name), 0)
		if seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events printed none of %d marker containers' create in 60 s", i)
		}
	}
}

// sawCreate reads ch for up to wait until name's create event comes.
func sawCreate(t *testing.T, ch <-chan eventMsg, name string, wait time.Duration) bool {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("events ended before the marker's create")
			}
			if m.Type == "container" && m.Action == "create" && m.Actor.Attributes["name"] == name {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// collect reads events until one matches last, or 60 s pass (the
// commands that made them have returned: they are in the journal).
func collect(t *testing.T, ch <-chan eventMsg, last func(eventMsg) bool) []eventMsg {
	t.Helper()
	var got []eventMsg
	deadline := time.After(60 * time.Second)
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
	wantCode(t, e.lodger(t, "run", "-q", noTLS, "--name", "fg", "--label", "tier=front", busybox, "sh", "-c", "exit 3"), 3)
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "bg", busybox, "sleep", "600"), 0)
	wantCode(t, e.lodger(t, "stop", "-t", "1", "bg"), 0)
	wantCode(t, e.lodger(t, "rm", "bg"), 0)
	wantCode(t, e.lodger(t, "tag", busybox, "localhost/mine:v1"), 0)
	wantCode(t, e.lodger(t, "rmi", "localhost/mine:v1"), 0)
	got := collect(t, ch, func(m eventMsg) bool { return m.Type == "image" && m.Action == "untag" })
	stop()

	// Docker's run attaches to the container before it starts it.
	if diff := strings.Join(actionsOf(got, "fg"), ","); diff != "create,attach,start,die" {
		t.Errorf("fg's events %s, want create,attach,start,die\n%v", diff, got)
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
	r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "container=fg", "--filter", "event=die")
	wantCode(t, r, 0)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\S* container die [0-9a-f]{64} \(exitCode=3, image=\S+, name=fg, tier=front\)\n$`).MatchString(r.stdout) {
		t.Errorf("%s\nwant fg's one die event in Docker's line", r)
	}
	r = e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "type=image", "--format", "{{.Action}}")
	wantStdout(t, r, "pull\ntag\nuntag\n")
	wantError(t, e.lodger(t, "events", "--filter", "colour=red"), 1, "colour")
	wantCode(t, e.lodger(t, "rm", "fg"), 0)
	wantNothingLeft(t, e)
}

// TestEventsEveryAction: the events Docker writes for the rest of a
// container's and an image's life, with Docker's attributes, as
// `docker events --format '{{json .}}'` shows them (issue 13).
func TestEventsEveryAction(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	ch, stop := followEvents(t, e)
	wantCode(t, e.lodger(t, "volume", "create", "vol"), 0)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "c", "-v", "vol:/data:ro", busybox, "sleep", "600"), 0)
	wantCode(t, e.lodger(t, "pause", "c"), 0)
	wantCode(t, e.lodger(t, "unpause", "c"), 0)
	wantCode(t, e.lodger(t, "exec", "c", "sh", "-c", "exit 4"), 4)
	wantCode(t, e.lodger(t, "exec", "c", "true"), 0)
	wantCode(t, e.lodger(t, "rename", "c", "d"), 0)
	wantCode(t, e.lodger(t, "update", "--restart", "always", "d"), 0)
	wantCode(t, e.lodger(t, "restart", "-t", "0", "d"), 0)
	wantCode(t, e.lodger(t, "commit", "-m", "snap", "d", "localhost/snap:v1"), 0)
	wantCode(t, e.lodger(t, "export", "-o", filepath.Join(e.dir, "d.tar"), "d"), 0)
	wantCode(t, e.lodger(t, "rm", "-f", "d"), 0)
	wantCode(t, e.lodger(t, "volume", "rm", "vol"), 0)
	// A foreground run's anonymous volume comes and goes with it.
	wantCode(t, e.lodger(t, "run", "--rm", "-q", "--name", "anon", "-v", "/scratch", busybox, "true"), 0)
	wantCode(t, e.lodger(t, "create", "-q", "--name", "sa", busybox, "true"), 0)
	wantCode(t, e.lodger(t, "start", "-a", "sa"), 0)
	img := filepath.Join(e.dir, "img.tar")
	wantCode(t, e.lodger(t, "save", "-q", "-o", img, "localhost/snap:v1"), 0)
	wantCode(t, e.lodger(t, "rmi", "localhost/snap:v1"), 0)
	wantCode(t, e.lodger(t, "load", "-q", "-i", img), 0)
	wantCode(t, e.lodger(t, "import", filepath.Join(e.dir, "d.tar"), "localhost/imported:v1"), 0)
	wantCode(t, e.lodger(t, "push", "-q", noTLS, "localhost/snap:v1", registry+"/lodger-test/events-push:v1"), 0)
	got := collect(t, ch, func(m eventMsg) bool { return m.Type == "image" && m.Action == "push" })
	stop()

	var id string
	for _, m := range got {
		if m.Type == "container" && m.Actor.Attributes["name"] == "c" {
			id = m.Actor.ID
		}
	}
	// The kills' count depends on how fast sleep dies; the rest is
	// Docker's order.
	want := "create,volume mount,start,pause,unpause,exec_create: sh -c exit 4,exec_start: sh -c exit 4,exec_die," +
		"exec_create: true ,exec_start: true ,exec_die,rename,update,die,stop,volume mount,start,restart,commit,export,die,destroy"
	var all []string
	for _, m := range got {
		switch {
		case m.Type == "container" && m.Actor.ID == id && m.Action != "kill":
			all = append(all, m.Action)
		case m.Type == "volume" && m.Action == "mount" && m.Actor.Attributes["container"] == id:
			all = append(all, "volume mount")
		}
	}
	if strings.Join(all, ",") != want {
		t.Errorf("the container's events\n%s\nwant\n%s", strings.Join(all, ","), want)
	}
	for _, m := range got {
		a := m.Actor.Attributes
		switch {
		case m.Type == "container" && m.Action == "exec_die":
			if len(a["execID"]) != 64 || (a["exitCode"] != "4" && a["exitCode"] != "0") || a["image"] != busybox {
				t.Errorf("exec_die %v: want a 64-hex execID, the exit code and the container's attributes", m)
			}
		case m.Type == "container" && strings.HasPrefix(m.Action, "exec_"):
			if len(a["execID"]) != 64 {
				t.Errorf("%s %v: want a 64-hex execID", m.Action, m)
			}
		case m.Type == "container" && m.Action == "rename":
			if a["oldName"] != "/c" || a["name"] != "d" {
				t.Errorf("rename %v: want oldName /c and name d", m)
			}
		case m.Type == "container" && m.Action == "commit":
			if a["comment"] != "snap" || a["imageRef"] != "localhost/snap:v1" || !strings.HasPrefix(a["imageID"], "sha256:") {
				t.Errorf("commit %v: want the comment, imageRef and imageID", m)
			}
		case m.Type == "volume" && m.Action == "mount" && m.Actor.ID == "vol":
			if a["container"] != id || a["destination"] != "/data" || a["read/write"] != "false" || a["driver"] != "local" {
				t.Errorf("volume mount %v: want container, destination /data, read/write false, driver local", m)
			}
		case m.Type == "volume" && m.Action == "unmount" && m.Actor.ID == "vol":
			if a["container"] != id || a["driver"] != "local" {
				t.Errorf("volume unmount %v: want the container and driver local", m)
			}
		case m.Type == "volume" && (m.Action == "create" || m.Action == "destroy"):
			if a["driver"] != "local" {
				t.Errorf("volume %s %v: want driver local", m.Action, m)
			}
		}
	}
	var vols, anon, images []string
	for _, m := range got {
		switch {
		case m.Type == "volume" && m.Actor.ID == "vol" && m.Action != "mount" && m.Action != "unmount":
			vols = append(vols, m.Action)
		case m.Type == "volume" && m.Actor.ID != "vol":
			anon = append(anon, m.Action)
		case m.Type == "container" && (m.Actor.Attributes["name"] == "sa"):
			images = append(images, "sa "+m.Action)
		case m.Type == "image" && m.Action != "untag" && m.Action != "delete":
			images = append(images, m.Action+" "+m.Actor.ID+" "+m.Actor.Attributes["name"])
		}
	}
	if strings.Join(vols, ",") != "create,destroy" {
		t.Errorf("vol's events %v, want create,destroy", vols)
	}
	if strings.Join(anon, ",") != "create,mount,unmount,destroy" {
		t.Errorf("the anonymous volume's events %v, want create,mount,unmount,destroy", anon)
	}
	saID, loadID := "", ""
	for _, m := range got {
		if m.Type == "image" && m.Action == "save" {
			saID = m.Actor.ID
		}
		if m.Type == "image" && m.Action == "load" {
			loadID = m.Actor.ID
		}
	}
	wantImages := []string{"sa create", "sa attach", "sa start", "sa die",
		"save " + saID + " " + saID, "load " + loadID + " " + loadID}
	if len(images) < len(wantImages)+2 || strings.Join(images[:len(wantImages)], "|") != strings.Join(wantImages, "|") ||
		!strings.HasPrefix(images[len(wantImages)], "import sha256:") ||
		images[len(wantImages)+1] != "push "+registry+"/lodger-test/events-push:v1 "+registry+"/lodger-test/events-push" {
		t.Errorf("events of start -a and the images:\n%s\nwant %s, then import sha256:... and push of %s", strings.Join(images, "\n"), strings.Join(wantImages, "\n"), registry+"/lodger-test/events-push:v1")
	}
	if saID == "" || saID != loadID {
		t.Errorf("save %q and load %q: want the saved image's ID in both", saID, loadID)
	}

	// The new filter keys.
	r := e.lodger(t, "events", "--since", "1h", "--until", "0s", "--filter", "type=volume", "--filter", "volume=vol", "--format", "{{.Action}}")
	wantStdout(t, r, "create\nmount\nunmount\nmount\nunmount\ndestroy\n")
}
