//go:build e2e

package e2e

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The output contract of Docker's CLI reference, field by field, for the
// commands scripts parse (issue 13): inspect's schemas, the listings'
// Go templates with Docker's field names, table headers and json lines,
// the template functions, and the unknown-field error.

// tmpl runs a lodger command with --format and returns its one-line
// output, trimmed.
func tmpl(t *testing.T, e *env, args ...string) string {
	t.Helper()
	r := e.lodger(t, args...)
	wantCode(t, r, 0)
	return strings.TrimSuffix(r.stdout, "\n")
}

// jsonKeys is the sorted keys of every --format json line of r.
func jsonKeys(t *testing.T, r result) []string {
	t.Helper()
	wantCode(t, r, 0)
	rows := jsonLines[map[string]any](t, r)
	if len(rows) == 0 {
		t.Fatalf("%s\nwant JSON lines", r)
	}
	for _, row := range rows {
		for k, v := range row {
			if _, ok := v.(string); !ok {
				t.Errorf("%s\nkey %s is %T; Docker's listing fields are strings", r, k, v)
			}
		}
	}
	return slices.Sorted(maps.Keys(rows[0]))
}

// header is the first line of a table split into its columns.
func header(t *testing.T, r result) []string {
	t.Helper()
	wantCode(t, r, 0)
	ls := lines(r.stdout)
	if len(ls) == 0 {
		t.Fatalf("%s\nwant a header", r)
	}
	return regexp.MustCompile(` {2,}`).Split(strings.TrimSpace(ls[0]), -1)
}

func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func TestFormatContainerInspect(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	id := strings.TrimSpace(e.lodger(t, "run", "-d", "-q", "--name", "fmt-web", "-e", "GREETING=hi", "--label", "tier=front",
		"-p", "127.0.0.1::80", "--restart", "on-failure:2", "--cap-add", "NET_ADMIN", busybox, "sleep", "1000").stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want the ID", id)
	}
	in := func(f string) string { t.Helper(); return tmpl(t, e, "inspect", "-f", f, "fmt-web") }

	// docker inspect's reference: the fields scripts read most.
	wantEqual(t, ".Id", in("{{.Id}}"), id)
	wantEqual(t, ".ID", in("{{.ID}}"), id)
	wantEqual(t, ".Name", in("{{.Name}}"), "/fmt-web")
	wantEqual(t, ".State.Running", in("{{.State.Running}}"), "true")
	wantEqual(t, ".State.Status", in("{{.State.Status}}"), "running")
	wantEqual(t, ".State.Paused", in("{{.State.Paused}}"), "false")
	wantEqual(t, ".State.ExitCode running", in("{{.State.ExitCode}}"), "0")
	if pid, err := strconv.Atoi(in("{{.State.Pid}}")); err != nil || pid <= 0 {
		t.Errorf(".State.Pid: %d %v, want the process", pid, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, in("{{.State.StartedAt}}")); err != nil {
		t.Errorf(".State.StartedAt: %v", err)
	}
	wantEqual(t, ".State.FinishedAt running", in("{{.State.FinishedAt}}"), "0001-01-01T00:00:00Z")
	if _, err := time.Parse(time.RFC3339Nano, in("{{.Created}}")); err != nil {
		t.Errorf(".Created: %v", err)
	}
	wantEqual(t, ".Image", strings.HasPrefix(in("{{.Image}}"), "sha256:"), true)
	wantEqual(t, ".Path", in("{{.Path}}"), "sleep")
	wantEqual(t, ".Args", in("{{json .Args}}"), `["1000"]`)
	wantEqual(t, ".Config.Image", in("{{.Config.Image}}"), busybox)
	wantEqual(t, ".Config.Cmd", in("{{json .Config.Cmd}}"), `["sleep","1000"]`)
	wantEqual(t, ".Config.Entrypoint", in("{{json .Config.Entrypoint}}"), `null`)
	wantEqual(t, ".Config.Labels", in(`{{index .Config.Labels "tier"}}`), "front")
	wantEqual(t, ".Config.Env", slices.Contains(strings.Fields(in(`{{range .Config.Env}}{{.}} {{end}}`)), "GREETING=hi"), true)
	wantEqual(t, ".Config.ExposedPorts", in(`{{range $p, $_ := .Config.ExposedPorts}}{{$p}}{{end}}`), "80/tcp")
	wantEqual(t, ".HostConfig.RestartPolicy", in("{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"), "on-failure:2")
	wantEqual(t, ".HostConfig.AutoRemove", in("{{.HostConfig.AutoRemove}}"), "false")
	wantEqual(t, ".HostConfig.Privileged", in("{{.HostConfig.Privileged}}"), "false")
	wantEqual(t, ".HostConfig.CapAdd", in("{{json .HostConfig.CapAdd}}"), `["CAP_NET_ADMIN"]`)
	wantEqual(t, ".HostConfig.NetworkMode", in("{{.HostConfig.NetworkMode}}"), "bridge")
	wantEqual(t, ".HostConfig.PortBindings", in("{{json .HostConfig.PortBindings}}"), `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}`)
	// The reference's own example: ports through range and index.
	port := strings.TrimSpace(e.lodger(t, "port", "fmt-web", "80").stdout)
	wantEqual(t, "range .NetworkSettings.Ports", in(`{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostIp}}:{{(index $conf 0).HostPort}}{{end}}`), "80/tcp -> "+port)
	wantEqual(t, `index .NetworkSettings.Ports "80/tcp"`, in(`{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`), port[strings.LastIndex(port, ":")+1:])
	wantEqual(t, ".NetworkSettings.Networks IPAddress", in(`{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}`), "10.0.2.100")
	wantEqual(t, ".LogPath", strings.HasPrefix(in("{{.LogPath}}"), "/"), true)
	// lodger's own facts, in an object of their own.
	if pid, err := strconv.Atoi(in("{{.Lodger.MonitorPid}}")); err != nil || pid <= 0 {
		t.Errorf(".Lodger.MonitorPid: %d %v", pid, err)
	}
	// The JSON array, 4-space indented, Docker's top-level keys.
	r := e.lodger(t, "inspect", "fmt-web")
	wantCode(t, r, 0)
	var all []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil || len(all) != 1 {
		t.Fatalf("%s\nparse: %v", r, err)
	}
	for _, k := range []string{"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
		"LogPath", "Name", "RestartCount", "Driver", "Platform", "HostConfig", "Mounts", "Config", "NetworkSettings", "Lodger"} {
		if _, ok := all[0][k]; !ok {
			t.Errorf("inspect: no key %s", k)
		}
	}
	if !strings.HasPrefix(r.stdout, "[\n    {\n        \"Id\": ") {
		t.Errorf("%s\nwant Docker's 4-space indented array", r)
	}

	// Stopped: not running, the signal's code, a finish time.
	wantCode(t, e.lodger(t, "stop", "-t", "1", "fmt-web"), 0)
	wantEqual(t, ".State.Running stopped", in("{{.State.Running}}"), "false")
	wantEqual(t, ".State.Status stopped", in("{{.State.Status}}"), "exited")
	wantEqual(t, ".State.Pid stopped", in("{{.State.Pid}}"), "0")
	if code := in("{{.State.ExitCode}}"); code != "137" && code != "143" {
		t.Errorf(".State.ExitCode after stop: %s, want 137 or 143", code)
	}
	if _, err := time.Parse(time.RFC3339Nano, in("{{.State.FinishedAt}}")); err != nil {
		t.Errorf(".State.FinishedAt: %v", err)
	}

	// Exit code, created state, mounts.
	wantCode(t, e.lodger(t, "run", "-q", "--name", "fmt-exit", "-v", "fmt-vol:/data", "-v", e.tmp+":/host:ro", busybox, "sh", "-c", "exit 3"), 3)
	wantEqual(t, "exit code", tmpl(t, e, "inspect", "-f", "{{.State.ExitCode}} {{.State.Status}}", "fmt-exit"), "3 exited")
	wantEqual(t, ".Mounts", tmpl(t, e, "inspect", "-f", `{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}};{{end}}`, "fmt-exit"),
		"volume fmt-vol /data true;bind  /host false;")
	wantEqual(t, ".HostConfig.Binds", tmpl(t, e, "inspect", "-f", `{{json .HostConfig.Binds}}`, "fmt-exit"), `["fmt-vol:/data","`+e.tmp+`:/host:ro"]`)
	// --size: the writable layer, and that with the image.
	sizes := strings.Fields(tmpl(t, e, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "fmt-exit"))
	if len(sizes) != 2 {
		t.Fatalf("inspect -s: %v", sizes)
	}
	rw, err1 := strconv.ParseInt(sizes[0], 10, 64)
	root, err2 := strconv.ParseInt(sizes[1], 10, 64)
	if err1 != nil || err2 != nil || rw < 0 || root < rw+100_000 {
		t.Errorf("inspect -s: SizeRw %s, SizeRootFs %s; want the image's size in the second", sizes[0], sizes[1])
	}
	wantCode(t, e.lodger(t, "create", "-q", "--name", "fmt-new", "--rm", busybox, "true"), 0)
	wantEqual(t, "created", tmpl(t, e, "inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.StartedAt}} {{.HostConfig.AutoRemove}}", "fmt-new"),
		"created false 0001-01-01T00:00:00Z true")

	// container inspect is inspect; errors name the field or the object.
	wantEqual(t, "container inspect", tmpl(t, e, "container", "inspect", "--format", "{{.Name}}", "fmt-exit"), "/fmt-exit")
	wantError(t, e.lodger(t, "inspect", "-f", "{{.Nosuch}}", "fmt-exit"), 1, "can't evaluate field Nosuch")
	wantError(t, e.lodger(t, "inspect", "-f", "{{.State.Nosuch}}", "fmt-exit"), 1, "can't evaluate field Nosuch")
	wantError(t, e.lodger(t, "inspect", "no-such-thing"), 1, "no such object: no-such-thing")
	wantError(t, e.lodger(t, "inspect", "--type", "container", busybox), 1, "no such container")
	wantEqual(t, "inspect finds images", tmpl(t, e, "inspect", "-f", "{{.Os}}", busybox), "linux")
	wantEqual(t, "--type image", tmpl(t, e, "inspect", "--type", "image", "-f", "{{.Os}}", busybox), "linux")
	wantEqual(t, "inspect finds volumes", tmpl(t, e, "inspect", "-f", "{{.Driver}}", "fmt-vol"), "local")
	// Several objects: one line each.
	wantEqual(t, "two objects", tmpl(t, e, "inspect", "-f", "{{.Name}}", "fmt-exit", "fmt-new"), "/fmt-exit\n/fmt-new")

	// The health check, the log driver and the stop timeout in Docker's
	// places.
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "fmt-h", "--health-cmd", "true", "--health-interval", "1s",
		"--log-driver", "json-file", "--log-opt", "max-size=1m", "--stop-timeout", "7", busybox, "sleep", "1000"), 0)
	hi := func(f string) string { t.Helper(); return tmpl(t, e, "inspect", "-f", f, "fmt-h") }
	eventually(t, ".State.Health.Status healthy", func() bool { return hi("{{.State.Health.Status}}") == "healthy" })
	wantEqual(t, ".State.Health.Log", hi("{{(index .State.Health.Log 0).ExitCode}}"), "0")
	wantEqual(t, ".Config.Healthcheck.Test", hi("{{json .Config.Healthcheck.Test}}"), `["CMD-SHELL","true"]`)
	wantEqual(t, ".Config.StopTimeout", hi("{{.Config.StopTimeout}}"), "7")
	wantEqual(t, ".HostConfig.LogConfig", hi(`{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}}`), "json-file 1048576")
	wantCode(t, e.lodger(t, "rm", "-f", "fmt-web", "fmt-exit", "fmt-new", "fmt-h"), 0)
}

func TestFormatImageAndVolumeInspect(t *testing.T) {
	e := isolatedEnv(t)
	id := e.pull(t, busybox, noTLS)
	im := func(f string) string { t.Helper(); return tmpl(t, e, "image", "inspect", "--format", f, busybox) }
	wantEqual(t, ".Id", im("{{.Id}}"), "sha256:"+id)
	wantEqual(t, ".RepoTags", im("{{json .RepoTags}}"), `["`+busybox+`"]`)
	if d := im("{{index .RepoDigests 0}}"); !regexp.MustCompile(`^` + regexp.QuoteMeta(strings.TrimSuffix(busybox, ":latest")) + `@sha256:[0-9a-f]{64}$`).MatchString(d) {
		t.Errorf(".RepoDigests: %s, want REPO@sha256:DIGEST", d)
	}
	wantEqual(t, ".Os", im("{{.Os}}"), "linux")
	if a := im("{{.Architecture}}"); a == "" {
		t.Error(".Architecture is empty")
	}
	if _, err := time.Parse(time.RFC3339Nano, im("{{.Created}}")); err != nil {
		t.Errorf(".Created: %v", err)
	}
	wantEqual(t, ".Config.Cmd", im("{{json .Config.Cmd}}"), `["sh"]`)
	if n, err := strconv.ParseInt(im("{{.Size}}"), 10, 64); err != nil || n < 100_000 {
		t.Errorf(".Size: %d %v", n, err)
	}
	wantEqual(t, ".RootFS.Type", im("{{.RootFS.Type}}"), "layers")
	if l := im("{{range .RootFS.Layers}}{{.}} {{end}}"); !regexp.MustCompile(`^(sha256:[0-9a-f]{64} )+$`).MatchString(l) {
		t.Errorf(".RootFS.Layers: %q", l)
	}
	wantError(t, e.lodger(t, "image", "inspect", "-f", "{{.Nosuch}}", busybox), 1, "can't evaluate field Nosuch")

	wantCode(t, e.lodger(t, "volume", "create", "--label", "a=b", "fmt-v"), 0)
	vo := func(f string) string { t.Helper(); return tmpl(t, e, "volume", "inspect", "--format", f, "fmt-v") }
	wantEqual(t, "volume fields", vo(`{{.Name}} {{.Driver}} {{.Scope}} {{index .Labels "a"}}`), "fmt-v local local b")
	wantEqual(t, ".Mountpoint", strings.HasSuffix(vo("{{.Mountpoint}}"), "/fmt-v/_data"), true)
	if _, err := time.Parse(time.RFC3339, vo("{{.CreatedAt}}")); err != nil {
		t.Errorf(".CreatedAt: %v", err)
	}
}

func TestFormatListings(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "fmt-ls", "--label", "tier=back", "-v", "fmt-lsv:/data", busybox, "sleep", "1000"), 0)

	// ps: Docker's fields, headers and json keys.
	wantEqual(t, "ps template", tmpl(t, e, "ps", "--format", `{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Label "tier"}}|{{.Labels}}|{{.Mounts}}|{{.Networks}}|{{.LocalVolumes}}`),
		`fmt-ls|`+busybox+`|"sleep 1000"|running|back|tier=back|fmt-lsv|bridge|1`)
	if s := tmpl(t, e, "ps", "--format", "{{.Status}} / {{.RunningFor}} / {{.CreatedAt}}"); !regexp.MustCompile(`^Up (\d+ \w+|Less than a second|About an? \w+) / .+ ago / \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$`).MatchString(s) {
		t.Errorf("ps .Status/.RunningFor/.CreatedAt: %q", s)
	}
	if id := tmpl(t, e, "ps", "--format", "{{.ID}}"); !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("ps .ID: %q, want 12 hex digits", id)
	}
	wantEqual(t, "ps header", strings.Join(header(t, e.lodger(t, "ps", "--format", `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}`)), "|"),
		"CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES")
	wantEqual(t, "ps default header", strings.Join(header(t, e.lodger(t, "ps")), "|"), "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|NAMES")
	wantEqual(t, "ps -s header", strings.Join(header(t, e.lodger(t, "ps", "-s")), "|"), "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|NAMES|SIZE")
	if sz := tmpl(t, e, "ps", "--format", "{{.Size}}"); !regexp.MustCompile(`^\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$`).MatchString(sz) {
		t.Errorf("ps .Size: %q, want Docker's SIZE (virtual SIZE)", sz)
	}
	wantEqual(t, "ps json keys", strings.Join(jsonKeys(t, e.lodger(t, "ps", "--format", "json")), " "),
		"Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Ports RunningFor Size State Status")
	wantError(t, e.lodger(t, "ps", "--format", "{{.Nosuch}}"), 1, `template: :1:2: executing "" at <.Nosuch>: can't evaluate field Nosuch in type`)

	// The functions Docker documents.
	fns := []struct{ format, want string }{
		{`{{upper .Names}}`, "FMT-LS"},
		{`{{lower "ABC"}}`, "abc"},
		{`{{title .State}}`, "Running"},
		{`{{join (split .Names "-") "_"}}`, "fmt_ls"},
		{`{{truncate .Names 3}}`, "fmt"},
		{`[{{pad .Names 1 2}}]`, "[ fmt-ls  ]"},
		{`{{json .Names}}`, `"fmt-ls"`},
		{`{{println .Names}}`, "fmt-ls\n"},
	}
	for _, f := range fns {
		wantEqual(t, f.format, tmpl(t, e, "ps", "--format", f.format), f.want)
	}

	// images.
	wantEqual(t, "images template", tmpl(t, e, "images", "--format", "{{.Repository}}:{{.Tag}}"), busybox)
	wantEqual(t, "images header", strings.Join(header(t, e.lodger(t, "images", "--format", `table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`)), "|"),
		"REPOSITORY|TAG|IMAGE ID|CREATED|SIZE")
	wantEqual(t, "images default header", strings.Join(header(t, e.lodger(t, "images")), "|"), "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE")
	wantEqual(t, "images --digests header", strings.Join(header(t, e.lodger(t, "images", "--digests")), "|"), "REPOSITORY|TAG|DIGEST|IMAGE ID|CREATED|SIZE")
	wantEqual(t, "images json keys", strings.Join(jsonKeys(t, e.lodger(t, "images", "--format", "json")), " "),
		"Containers CreatedAt CreatedSince Digest ID Repository SharedSize Size Tag UniqueSize VirtualSize")
	if d := tmpl(t, e, "images", "--format", "{{.Digest}}"); !strings.HasPrefix(d, "sha256:") {
		t.Errorf("images .Digest: %q", d)
	}

	// volume ls, history, system df.
	wantEqual(t, "volume ls template", tmpl(t, e, "volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"), "fmt-lsv local local")
	wantEqual(t, "volume ls header", strings.Join(header(t, e.lodger(t, "volume", "ls")), "|"), "DRIVER|VOLUME NAME")
	wantEqual(t, "volume ls json keys", strings.Join(jsonKeys(t, e.lodger(t, "volume", "ls", "--format", "json")), " "),
		"Driver Labels Links Mountpoint Name Scope Size")
	wantEqual(t, "history header", strings.Join(header(t, e.lodger(t, "history", busybox)), "|"), "IMAGE|CREATED|CREATED BY|SIZE|COMMENT")
	wantEqual(t, "history json keys", strings.Join(jsonKeys(t, e.lodger(t, "history", "--format", "json", busybox)), " "),
		"Comment CreatedAt CreatedBy CreatedSince ID Size")
	wantEqual(t, "system df header", strings.Join(header(t, e.lodger(t, "system", "df")), "|"), "TYPE|TOTAL|ACTIVE|SIZE|RECLAIMABLE")
	wantEqual(t, "system df template", tmpl(t, e, "system", "df", "--format", "{{.Type}}:{{.TotalCount}}:{{.Active}}"), "Images:1:1\nContainers:1:1\nLocal Volumes:1:1\nBuild Cache:0:0")
	wantEqual(t, "system df json keys", strings.Join(jsonKeys(t, e.lodger(t, "system", "df", "--format", "json")), " "),
		"Active Reclaimable Size TotalCount Type")

	// info and version.
	wantEqual(t, "info .Driver", tmpl(t, e, "info", "--format", "{{.Driver}}"), tmpl(t, e, "info", "--format", "{{.Storage.Driver}}"))
	wantEqual(t, "info counts", tmpl(t, e, "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}} {{.OSType}}"), "1 1 0 1 linux")
	wantEqual(t, "info .DockerRootDir", tmpl(t, e, "info", "--format", "{{.DockerRootDir}}"), tmpl(t, e, "info", "--format", "{{.Storage.GraphRoot}}"))
	wantError(t, e.lodger(t, "info", "--format", "{{.Nosuch}}"), 1, "can't evaluate field Nosuch")
	v := tmpl(t, e, "version", "--format", "{{.Client.Version}} {{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}}")
	if f := strings.Fields(v); len(f) != 4 || f[0] != f[1] || !regexp.MustCompile(`^1\.\d+$`).MatchString(f[2]) || !strings.HasPrefix(f[3], "linux/") {
		t.Errorf("version --format: %q", v)
	}
	var ver struct{ Client, Server map[string]any }
	if err := json.Unmarshal([]byte(tmpl(t, e, "version", "--format", "json")), &ver); err != nil || ver.Client["Version"] == nil || ver.Server["ApiVersion"] == nil {
		t.Errorf("version --format json: %+v %v", ver, err)
	}
	wantCode(t, e.lodger(t, "rm", "-f", "fmt-ls"), 0)
}

// TestInspectDockerConfig: what docker inspect shows of the command, the
// exposed ports and the network, field for field: Config.Entrypoint and
// Config.Cmd as create kept them (the image's, --entrypoint dropping the
// image's Cmd, arguments replacing it), --expose beside the image's EXPOSE
// in Config.ExposedPorts, and the default network as Docker's bridge
// (issue 13).
func TestInspectDockerConfig(t *testing.T) {
	e := isolatedEnv(t)
	cfgImg, healthImg := ref("config:latest"), ref("health:latest")
	e.pull(t, cfgImg, noTLS)
	e.pull(t, healthImg, noTLS)
	e.pull(t, busybox, noTLS)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"ci", []string{cfgImg}, `["/bin/echo","entry"] ["default-arg"] /bin/echo ["entry","default-arg"]`},
		{"ca", []string{cfgImg, "x", "y"}, `["/bin/echo","entry"] ["x","y"] /bin/echo ["entry","x","y"]`},
		{"ce", []string{"--entrypoint", "/bin/true", cfgImg}, `["/bin/true"] null /bin/true []`},
		{"cea", []string{"--entrypoint", "/bin/echo", cfgImg, "z"}, `["/bin/echo"] ["z"] /bin/echo ["z"]`},
		{"bi", []string{busybox}, `null ["sh"] sh []`},
	} {
		wantCode(t, e.lodger(t, append([]string{"create", "-q", "--name", c.name}, c.args...)...), 0)
		got := tmpl(t, e, "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Path}} {{json .Args}}", c.name)
		wantEqual(t, c.name+"'s Entrypoint, Cmd, Path and Args", got, c.want)
	}
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "ex", "--expose", "7000/udp", "--expose", "7100-7101", "-p", "127.0.0.1::80", healthImg, "sleep", "600"), 0)
	wantEqual(t, ".Config.ExposedPorts", tmpl(t, e, "inspect", "-f", "{{json .Config.ExposedPorts}}", "ex"),
		`{"7000/udp":{},"7100/tcp":{},"7101/tcp":{},"80/tcp":{},"8080/tcp":{},"9090/udp":{}}`)
	wantEqual(t, ".HostConfig.NetworkMode", tmpl(t, e, "inspect", "-f", "{{.HostConfig.NetworkMode}}", "ex"), "bridge")
	wantEqual(t, ".NetworkSettings.Networks", tmpl(t, e, "inspect", "-f",
		`{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{len $v.NetworkID}} {{$v.IPAddress}} {{$v.Gateway}}{{end}}`, "ex"), "bridge 64 10.0.2.100 10.0.2.2")
	wantEqual(t, "ps .Networks", tmpl(t, e, "ps", "--filter", "name=ex", "--format", "{{.Networks}}"), "bridge")
	nid := tmpl(t, e, "inspect", "-f", `{{(index .NetworkSettings.Networks "bridge").NetworkID}}`, "ex")
	wantEqual(t, "the bridge network's ID in network inspect", tmpl(t, e, "network", "inspect", "-f", "{{.ID}}", "bridge"), nid)
	wantCode(t, e.lodger(t, "run", "-d", "-q", "--name", "nn", "--network", "none", busybox, "sleep", "600"), 0)
	wantEqual(t, "none's NetworkMode", tmpl(t, e, "inspect", "-f", "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", "nn"), "none none")
	// -s adds Docker's sizes: the writable layer, and that with the image.
	wantCode(t, e.lodger(t, "exec", "ex", "sh", "-c", "head -c 100000 /dev/zero > /big"), 0)
	sizes := strings.Fields(tmpl(t, e, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "ex"))
	rw, _ := strconv.ParseInt(sizes[0], 10, 64)
	root, _ := strconv.ParseInt(sizes[1], 10, 64)
	if rw < 100000 || root <= rw+500000 {
		t.Errorf("inspect -s: SizeRw %d, SizeRootFs %d: want the 100 kB written, and the image's size on top", rw, root)
	}
	if r := tmpl(t, e, "inspect", "-f", "{{.SizeRw}}", "ex"); r != "<nil>" {
		t.Errorf("inspect without -s: SizeRw %q, want <nil> as Docker leaves it out", r)
	}
	wantCode(t, e.lodger(t, "rm", "-f", "ex", "nn", "ci", "ca", "ce", "cea", "bi"), 0)
}
