package container

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/netstack/ports"
)

// TestInspectReport checks the conversion into Docker's schema field by
// field, read back through JSON as a script (or the API) would.
func TestInspectReport(t *testing.T) {
	created := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	code := 0
	in := Info{ID: "abc123", Name: "web", ImageID: "img1", LogPath: "/run/c/log",
		Metadata: Metadata{Image: "busybox", Command: []string{"/entry", "sh", "-c", "x"}, Created: created,
			Labels: map[string]string{"a": "b"}, Remove: true, Volumes: []string{"data"},
			Restart: monitor.RestartPolicy{Name: "on-failure", MaxRetries: 3},
			Network: &NetworkSettings{Mode: NetworkNetstack, Publish: []ports.Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}},
		State: monitor.State{Status: monitor.StatusRunning, Pid: 42, MonitorPid: 41, ExitCode: &code, StartedAt: created.Add(time.Second),
			Ports: []ports.Mapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}}
	caps := append([]string{"CAP_NET_ADMIN"}, exec.DefaultCapabilities[1:]...)
	spec := &specs.Spec{Hostname: "abc123",
		Root: &specs.Root{Readonly: true},
		Process: &specs.Process{Env: []string{"PATH=/bin", "A=1"}, Cwd: "/srv", Terminal: true, User: specs.User{UID: 1000, GID: 100},
			Capabilities: &specs.LinuxCapabilities{Bounding: caps}},
		Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{}},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/etc/hosts", Type: "bind", Source: "/x/hosts", Options: []string{"bind"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=65536000"}},
			{Destination: "/host", Type: "bind", Source: "/home/u/src", Options: []string{"rbind", "ro"}},
			{Destination: "/data", Type: "bind", Source: "/home/u/.local/share/lodger/volumes/data/_data", Options: []string{"rbind"}},
			{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs"},
		}}
	img := &imgspecv1.Image{Config: imgspecv1.ImageConfig{Entrypoint: []string{"/entry"}, ExposedPorts: map[string]struct{}{"443/tcp": {}}}}
	b, err := json.Marshal(inspectReport(in, spec, img))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	pick := func(m map[string]any, keys ...string) map[string]any {
		out := map[string]any{}
		for _, k := range keys {
			out[k] = m[k]
		}
		return out
	}
	obj := func(k string) map[string]any { return got[k].(map[string]any) }
	checks := []struct {
		name      string
		want, got any
	}{
		{"top", map[string]any{"Id": "abc123", "Name": "/web", "Created": "2026-12-06T08:00:00Z", "Path": "/entry",
			"Args": []any{"sh", "-c", "x"}, "Image": "sha256:img1", "LogPath": "/run/c/log", "RestartCount": float64(0), "Platform": "linux"},
			pick(got, "Id", "Name", "Created", "Path", "Args", "Image", "LogPath", "RestartCount", "Platform")},
		{"State", map[string]any{"Status": "running", "Running": true, "Paused": false, "Restarting": false, "OOMKilled": false,
			"Dead": false, "Pid": float64(42), "ExitCode": float64(0), "Error": "", "StartedAt": "2026-12-06T08:00:01Z",
			"FinishedAt": "0001-01-01T00:00:00Z"}, got["State"]},
		{"Config", map[string]any{"Image": "busybox", "Entrypoint": []any{"/entry"}, "Cmd": []any{"sh", "-c", "x"},
			"Env": []any{"PATH=/bin", "A=1"}, "Labels": map[string]any{"a": "b"}, "WorkingDir": "/srv", "Tty": true,
			"User": "1000:100", "Hostname": "abc123",
			"ExposedPorts": map[string]any{"443/tcp": map[string]any{}, "80/tcp": map[string]any{}}},
			pick(obj("Config"), "Image", "Entrypoint", "Cmd", "Env", "Labels", "WorkingDir", "Tty", "User", "Hostname", "ExposedPorts")},
		{"HostConfig", map[string]any{"Binds": []any{"/home/u/src:/host:ro", "data:/data"}, "NetworkMode": "bridge",
			"PortBindings":  map[string]any{"80/tcp": []any{map[string]any{"HostIp": "0.0.0.0", "HostPort": "8080"}}},
			"RestartPolicy": map[string]any{"Name": "on-failure", "MaximumRetryCount": float64(3)},
			"AutoRemove":    true, "Privileged": false, "CapAdd": []any{"CAP_NET_ADMIN"}, "CapDrop": []any{exec.DefaultCapabilities[0]},
			"ReadonlyRootfs": true, "ShmSize": float64(65536000)},
			pick(obj("HostConfig"), "Binds", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove", "Privileged", "CapAdd", "CapDrop", "ReadonlyRootfs", "ShmSize")},
		{"NetworkSettings.Ports", map[string]any{"80/tcp": []any{map[string]any{"HostIp": "127.0.0.1", "HostPort": "8080"}}},
			obj("NetworkSettings")["Ports"]},
		{"Mounts", []any{
			map[string]any{"Type": "bind", "Source": "/home/u/src", "Destination": "/host", "Mode": "", "RW": false, "Propagation": "rprivate"},
			map[string]any{"Type": "volume", "Name": "data", "Driver": "local", "Source": "/home/u/.local/share/lodger/volumes/data/_data",
				"Destination": "/data", "Mode": "", "RW": true, "Propagation": ""},
			map[string]any{"Type": "tmpfs", "Source": "", "Destination": "/scratch", "Mode": "", "RW": true, "Propagation": ""},
		}, got["Mounts"]},
		{"Lodger", float64(41), obj("Lodger")["MonitorPid"]},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// Entrypoint and Cmd come as create kept them, not split from the argv
// again; --expose joins the image's ports; lodger's default network is
// Docker's bridge (issue 13).
func TestInspectDockerConfig(t *testing.T) {
	in := Info{ID: "abc", Name: "c", Metadata: Metadata{Command: []string{"/entry", "a"}, Entrypoint: []string{"/entry"}, Cmd: []string{"a"},
		Expose: []string{"7000/udp"}, Network: &NetworkSettings{Mode: NetworkNetstack}}}
	img := &imgspecv1.Image{Config: imgspecv1.ImageConfig{Entrypoint: []string{"/other"}, ExposedPorts: map[string]struct{}{"443/tcp": {}}}}
	r := inspectReport(in, &specs.Spec{}, img)
	if diff := cmp.Diff([]string{"/entry"}, []string(r.Config.Entrypoint)); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, []string(r.Config.Cmd)); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	var ports []string
	for p := range r.Config.ExposedPorts {
		ports = append(ports, string(p.String()))
	}
	slices.Sort(ports)
	if diff := cmp.Diff([]string{"443/tcp", "7000/udp"}, ports); diff != "" {
		t.Errorf("ExposedPorts (-want +got):\n%s", diff)
	}
	if r.HostConfig.NetworkMode != "bridge" {
		t.Errorf("NetworkMode %q, want bridge", r.HostConfig.NetworkMode)
	}
	// Stopped: the network's entry, without an address (Docker's).
	ep, ok := r.NetworkSettings.Networks["bridge"]
	if !ok || len(ep.NetworkID) != 64 || ep.Gateway.IsValid() || ep.IPAddress.IsValid() {
		t.Errorf("Networks %v, want bridge with its ID and no address while stopped", r.NetworkSettings.Networks)
	}
	running := in
	running.State.Status = monitor.StatusRunning
	ep, ok = inspectReport(running, &specs.Spec{}, img).NetworkSettings.Networks["bridge"]
	if !ok || ep.Gateway.String() != "10.0.2.2" || ep.IPAddress.String() != "10.0.2.100" {
		t.Errorf("Networks %v, want bridge with its gateway and address while running", r.NetworkSettings.Networks)
	}
	// --entrypoint "" is Docker's reset: [""], no Cmd from the image.
	in.Metadata.Entrypoint, in.Metadata.Cmd = []string{""}, nil
	if r := inspectReport(in, &specs.Spec{}, img); len(r.Config.Entrypoint) != 1 || r.Config.Entrypoint[0] != "" || r.Config.Cmd != nil {
		t.Errorf("Entrypoint %q Cmd %q, want [\"\"] and none", r.Config.Entrypoint, r.Config.Cmd)
	}
	// --network none and host keep their names.
	in.Metadata.Network = &NetworkSettings{Mode: NetworkHost}
	if r := inspectReport(in, &specs.Spec{}, img); r.HostConfig.NetworkMode != "host" || r.NetworkSettings.Networks["host"] == nil {
		t.Errorf("host: NetworkMode %q, Networks %v", r.HostConfig.NetworkMode, r.NetworkSettings.Networks)
	}
}

func TestInspectStatePaused(t *testing.T) {
	s := inspectState(monitor.State{Status: monitor.StatusRunning, Pid: 42, Paused: true})
	if !s.Running || !s.Paused || s.Status != "paused" || s.Pid != 42 {
		t.Errorf("paused state: %+v, want running and paused, status paused", s)
	}
}

func TestInspectStateExited(t *testing.T) {
	code := 137
	fin := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	s := inspectState(monitor.State{Status: monitor.StatusExited, Pid: 42, ExitCode: &code, FinishedAt: fin})
	if s.Running || s.Pid != 0 || s.ExitCode != 137 || s.FinishedAt != "2026-12-06T08:00:00Z" || s.StartedAt != zeroTime {
		t.Errorf("exited state: %+v", s)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		argv, ep, wantEP, wantCmd []string
	}{
		{[]string{"sh"}, nil, nil, []string{"sh"}},
		{[]string{"/e", "a"}, []string{"/e"}, []string{"/e"}, []string{"a"}},
		{[]string{"/other", "a"}, []string{"/e"}, []string{"/other"}, []string{"a"}},
	}
	for _, tt := range tests {
		ep, cmd := splitCommand(tt.argv, tt.ep)
		if !cmp.Equal(ep, tt.wantEP) || !cmp.Equal(cmd, tt.wantCmd, cmp.Comparer(func(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b)) })) {
			t.Errorf("splitCommand(%q, %q) = %q, %q", tt.argv, tt.ep, ep, cmd)
		}
	}
}

// The log driver, the health check and its state, the stop timeout, in
// Docker's places.
func TestInspectHealthAndLog(t *testing.T) {
	timeout := 7
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	in := Info{ID: "abc", Name: "h", Metadata: Metadata{StopTimeout: &timeout,
		Log:         &logfile.Options{Driver: "json-file", MaxSize: 1 << 20, MaxFile: 3},
		Healthcheck: &health.Config{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second, Retries: 2}},
		State: monitor.State{Status: monitor.StatusRunning, Health: &health.State{Status: "healthy", FailingStreak: 0,
			Log: []health.Result{{Start: start, End: start.Add(time.Millisecond), ExitCode: 0, Output: "ok"}}}}}
	r := inspectReport(in, &specs.Spec{}, nil)
	if lc := r.HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "1048576" || lc.Config["max-file"] != "3" {
		t.Errorf("LogConfig: %+v", lc)
	}
	if hc := r.Config.Healthcheck; hc == nil || !cmp.Equal(hc.Test, []string{"CMD-SHELL", "true"}) || hc.Interval != time.Second || hc.Retries != 2 {
		t.Errorf("Config.Healthcheck: %+v", hc)
	}
	if h := r.State.Health; h == nil || h.Status != "healthy" || len(h.Log) != 1 || h.Log[0].Output != "ok" || !h.Log[0].Start.Equal(start) {
		t.Errorf("State.Health: %+v", h)
	}
	if r.Config.StopTimeout == nil || *r.Config.StopTimeout != 7 {
		t.Errorf("Config.StopTimeout: %v", r.Config.StopTimeout)
	}
	// A record from before the log drivers: k8s-file.
	if lc := logConfig(Metadata{LogMaxSize: 10}); lc.Type != "k8s-file" || lc.Config["max-size"] != "10" {
		t.Errorf("old record's LogConfig: %+v", lc)
	}
}
