package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dockercontainer "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/volume"
)

// do sends a request to a server without a store: what these tests
// reach never opens one.
func do(t *testing.T, s *Server, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func message(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q is not Docker's {\"message\": ...}: %v", rec.Body.String(), err)
	}
	return m.Message
}

func TestPingHeaders(t *testing.T) {
	s := New(Options{LodgerVersion: "9.9"})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, path := range []string{"/_ping", "/v1.24/_ping", "/v1.44/_ping", "/v" + Version + "/_ping"} {
			rec := do(t, s, method, path, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s = %d; want 200", method, path, rec.Code)
			}
			h := rec.Header()
			want := map[string]string{"Api-Version": Version, "Docker-Experimental": "false", "Ostype": "linux",
				"Builder-Version": "1", "Server": "lodger/9.9 (linux)"}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s %s: header %s = %q; want %q", method, path, k, got, v)
				}
			}
			if method == http.MethodGet && rec.Body.String() != "OK" {
				t.Errorf("GET %s body = %q; want OK", path, rec.Body.String())
			}
			if method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD %s has a body %q", path, rec.Body.String())
			}
		}
	}
}

func TestVersionPrefixOutOfRange(t *testing.T) {
	s := New(Options{})
	for path, word := range map[string]string{"/v1.23/_ping": "too old", "/v1.99/_ping": "too new", "/v2.0/version": "too new"} {
		rec := do(t, s, http.MethodGet, path, "")
		if rec.Code != http.StatusBadRequest || !strings.Contains(message(t, rec), word) {
			t.Errorf("GET %s = %d %q; want 400 saying %q", path, rec.Code, rec.Body.String(), word)
		}
	}
}

func TestVersionEndpoint(t *testing.T) {
	rec := do(t, New(Options{LodgerVersion: "1.2.3"}), http.MethodGet, "/v1.44/version", "")
	var v struct {
		Version, APIVersion, MinAPIVersion, Os string
		Components                             []struct{ Name string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "1.2.3" || v.APIVersion != Version || v.MinAPIVersion != MinVersion || v.Os != "linux" || len(v.Components) != 1 {
		t.Errorf("version = %+v", v)
	}
}

func TestUnknownEndpointIs404(t *testing.T) {
	rec := do(t, New(Options{}), http.MethodGet, "/v1.44/nothing/here", "")
	if rec.Code != http.StatusNotFound || !strings.Contains(message(t, rec), "page not found") {
		t.Errorf("= %d %q; want 404 page not found", rec.Code, rec.Body.String())
	}
}

func TestNotImplementedSaySo(t *testing.T) {
	for _, p := range []string{"/build?version=2", "/session", "/swarm/init"} {
		rec := do(t, New(Options{}), http.MethodPost, p, "{}")
		if rec.Code != http.StatusNotImplemented || !strings.Contains(message(t, rec), "not implemented") {
			t.Errorf("POST %s = %d %q; want 501 saying not implemented", p, rec.Code, rec.Body.String())
		}
	}
}

func TestCreateBadInput(t *testing.T) {
	s := New(Options{MaxBodyBytes: 1024})
	for _, tt := range []struct {
		name, body string
		code       int
		word       string
	}{
		{"malformed JSON", `{"Image": `, http.StatusBadRequest, "invalid JSON"},
		{"wrong type", `{"Image": 7}`, http.StatusBadRequest, "invalid JSON"},
		{"no image", `{"Cmd": ["true"]}`, http.StatusBadRequest, "Image is required"},
		{"oversized body", `{"Image": "x", "Env": ["` + strings.Repeat("a", 2048) + `"]}`, http.StatusRequestEntityTooLarge, "larger than 1024"},
		{"bad port", `{"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "http"}]}}}`, http.StatusBadRequest, "not a port"},
		{"bad mount", `{"Image": "x", "HostConfig": {"Mounts": [{"Type": "npipe", "Target": "/x"}]}}`, http.StatusBadRequest, "not supported"},
		{"relative target", `{"Image": "x", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "x"}]}}`, http.StatusBadRequest, "absolute"},
		{"bad bind", `{"Image": "x", "HostConfig": {"Binds": ["./x:/c"]}}`, http.StatusBadRequest, `Binds "./x:/c": relative bind source ./x`},
		{"bad tmpfs", `{"Image": "x", "HostConfig": {"Tmpfs": {"/t": "bogus"}}}`, http.StatusBadRequest, `Tmpfs "/t:bogus": unknown option "bogus"`},
		{"container network", `{"Image": "x", "HostConfig": {"NetworkMode": "container:abc"}}`, http.StatusBadRequest, "not supported"},
		{"bad restart", `{"Image": "x", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}`, http.StatusBadRequest, "RestartPolicy"},
		{"bad pid mode", `{"Image": "x", "HostConfig": {"PidMode": "container:x"}}`, http.StatusBadRequest, "PidMode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, http.MethodPost, "/v1.44/containers/create?name=x", tt.body)
			msg := message(t, rec)
			if rec.Code != tt.code || !strings.Contains(msg, tt.word) {
				t.Errorf("= %d %q; want %d with %q", rec.Code, rec.Body.String(), tt.code, tt.word)
			}
			// The API's client set fields, not the CLI's flags.
			if strings.Contains(msg, "--") || strings.HasPrefix(msg, "-v ") {
				t.Errorf("message %q names a CLI flag", msg)
			}
		})
	}
}

func TestRunOptionsTranslation(t *testing.T) {
	init := true
	stopTimeout := 3
	req := dockercontainer.CreateRequest{
		Config: &dockercontainer.Config{Image: "busybox", Cmd: []string{"sh", "-c", "true"}, Entrypoint: []string{"/bin/env", "-i"},
			Env: []string{"A=1"}, Labels: map[string]string{"k": "v"}, Tty: true, OpenStdin: true, WorkingDir: "/w", User: "1:2",
			StopSignal: "SIGUSR1", StopTimeout: &stopTimeout,
			ExposedPorts: network.PortSet{network.MustParsePort("9000/udp"): {}},
			Healthcheck:  &dockercontainer.HealthConfig{Test: []string{"CMD", "true"}, Retries: 2}},
		HostConfig: &dockercontainer.HostConfig{
			Binds: []string{"vol:/data:ro"},
			Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700}},
				{Type: mount.TypeBind, Source: "/etc", Target: "/host-etc", ReadOnly: true}},
			Tmpfs: map[string]string{"/run": "size=1m"},
			PortBindings: network.PortMap{
				network.MustParsePort("80/tcp"):  {{HostPort: "0"}},
				network.MustParsePort("53/udp"):  {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
				network.MustParsePort("443/tcp"): {{HostPort: "8443-8450"}},
			},
			RestartPolicy: dockercontainer.RestartPolicy{Name: "on-failure", MaximumRetryCount: 4},
			AutoRemove:    false, NetworkMode: "bridge", ExtraHosts: []string{"db:10.0.0.1"}, Init: &init,
			Privileged: false, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"}, SecurityOpt: []string{"no-new-privileges"},
			ShmSize: 1 << 20, ReadonlyRootfs: true, PidMode: "host",
			LogConfig: dockercontainer.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}},
			Resources: dockercontainer.Resources{Memory: 1 << 30},
		},
	}
	ro, warnings, err := runOptions(req, "web")
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []ports.Mapping{
		{ContainerPort: 443, Protocol: "tcp", HostPort: 8443, HostPortEnd: 8450},
		{ContainerPort: 53, Protocol: "udp", HostPort: 5353, HostIP: netip.MustParseAddr("127.0.0.1")},
		{ContainerPort: 80, Protocol: "tcp"},
	}
	if diff := cmp.Diff(wantPorts, ro.Publish, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Publish (-want +got):\n%s", diff)
	}
	if ro.Name != "web" || ro.Image != "busybox" || !ro.TTY || !ro.Interactive || ro.Workdir != "/w" || ro.User != "1:2" {
		t.Errorf("basic fields: %+v", ro)
	}
	if diff := cmp.Diff([]string{"/bin/env", "-i"}, ro.Entrypoint); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if ro.Restart != (monitor.RestartPolicy{Name: "on-failure", MaxRetries: 4}) {
		t.Errorf("Restart = %+v", ro.Restart)
	}
	if ro.Network != container.NetworkNetstack || ro.Process.PID != "host" || !ro.Process.Init || ro.Process.StopSignal != "SIGUSR1" {
		t.Errorf("process = %+v, network %q", ro.Process, ro.Network)
	}
	if diff := cmp.Diff([]string{"max-file=2", "max-size=1m"}, ro.LogOpts); diff != "" {
		t.Errorf("LogOpts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"9000/udp"}, ro.Expose); diff != "" {
		t.Errorf("Expose (-want +got):\n%s", diff)
	}
	var dsts []string
	for _, m := range ro.Mounts.List {
		dsts = append(dsts, m.Type+":"+m.Destination)
	}
	if diff := cmp.Diff([]string{"volume:/data", "tmpfs:/scratch", "bind:/host-etc", "tmpfs:/run"}, dsts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if !ro.Mounts.ReadOnly || ro.Mounts.ShmSize != 1<<20 || !ro.Mounts.List[0].ReadOnly || !ro.Mounts.List[2].ReadOnly {
		t.Errorf("mount options = %+v", ro.Mounts)
	}
	if diff := cmp.Diff([]string{"CMD", "true"}, ro.Health.Test); diff != "" || ro.Health.Retries != 2 {
		t.Errorf("Health = %+v", ro.Health)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Memory not applied") {
		t.Errorf("warnings = %q; want one naming Memory", warnings)
	}
}

func TestStatusOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("no such container x: %w", cstorage.ErrContainerUnknown), 404},
		{fmt.Errorf("image: %w", image.ErrNotFound), 404},
		{fmt.Errorf("volume: %w", volume.ErrNotFound), 404},
		{fmt.Errorf("name: %w", container.ErrNameInUse), 409},
		{fmt.Errorf("rm: %w", container.ErrRunning), 409},
		{fmt.Errorf("exec: %w", container.ErrPaused), 409},
		{fmt.Errorf("rmi: %w", image.ErrInUse), 409},
		{fmt.Errorf("volume: %w", volume.ErrInUse), 409},
		{fmt.Errorf("create: %w", container.ErrInvalid), 400},
		{badRequest("x"), 400},
		{notImplemented("x"), 501},
		{errors.New("disk on fire"), 500},
	} {
		if got := statusOf(tt.err); got != tt.code {
			t.Errorf("statusOf(%v) = %d; want %d", tt.err, got, tt.code)
		}
	}
}

func TestMuxWriterFrames(t *testing.T) {
	var b bytes.Buffer
	w := &muxWriter{w: &b, stream: 2}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := b.Bytes()
	if len(got) != 13 || got[0] != 2 || got[1] != 0 || got[2] != 0 || got[3] != 0 || binary.BigEndian.Uint32(got[4:8]) != 5 || string(got[8:]) != "hello" {
		t.Errorf("frame = %q; want Docker's 8-byte header (stream 2, length 5) and the payload", got)
	}
}

func TestFiltersParam(t *testing.T) {
	for raw, want := range map[string]map[string][]string{
		`{"label":["a=b"],"status":["exited"]}`: {"label": {"a=b"}, "status": {"exited"}},
		`{"label":{"a=b":true}}`:                {"label": {"a=b"}},
	} {
		r := httptest.NewRequest(http.MethodGet, "/containers/json?filters="+urlQuery(raw), nil)
		got, err := filtersParam(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("filtersParam(%s) (-want +got):\n%s", raw, diff)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/containers/json?filters=nope", nil)
	if _, err := filtersParam(r); statusOf(err) != 400 {
		t.Errorf("filtersParam(nope) = %v; want a 400", err)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", "[", "%5B", "]", "%5D", " ", "%20", "=", "%3D", ":", "%3A", ",", "%2C").Replace(s)
}

func TestRegistryAuthHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/images/create", nil)
	// {"username":"u","password":"p"} in base64url.
	r.Header.Set("X-Registry-Auth", "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==")
	c, err := registryAuth(r)
	if err != nil || c == nil || c.Username != "u" || c.Password != "p" {
		t.Errorf("registryAuth = %+v, %v", c, err)
	}
	r.Header.Set("X-Registry-Auth", "e30=") // {}: no credentials
	if c, err := registryAuth(r); err != nil || c != nil {
		t.Errorf("registryAuth({}) = %+v, %v; want none", c, err)
	}
}

func TestNetworkOptions(t *testing.T) {
	type eo = container.EndpointOptions
	for _, tt := range []struct {
		name, mode string
		eps        map[string]*network.EndpointSettings
		network    string
		networks   []string
		endpoints  map[string]eo
		err        string
	}{
		{name: "default", mode: "", network: container.NetworkNetstack},
		{name: "bridge", mode: "bridge", network: container.NetworkNetstack},
		{name: "none", mode: "none", network: container.NetworkNone},
		{name: "user network by mode, aliases from its endpoint", mode: "proj_default",
			eps:       map[string]*network.EndpointSettings{"proj_default": {Aliases: []string{"web"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.89.3.7")}}},
			networks:  []string{"proj_default"},
			endpoints: map[string]eo{"proj_default": {Aliases: []string{"web"}, IPv4: netip.MustParseAddr("10.89.3.7")}}},
		{name: "no mode, an endpoint on a user network", mode: "",
			eps:       map[string]*network.EndpointSettings{"tc_net": {}},
			networks:  []string{"tc_net"},
			endpoints: map[string]eo{"tc_net": {}}},
		{name: "bridge with an endpoint on a user network", mode: "bridge",
			eps:       map[string]*network.EndpointSettings{"reaper_default": {}},
			networks:  []string{"reaper_default"},
			endpoints: map[string]eo{"reaper_default": {}}},
		{name: "endpoints on bridge and a user network", mode: "bridge",
			eps:       map[string]*network.EndpointSettings{"bridge": {}, "proj_default": {Aliases: []string{"a"}}},
			networks:  []string{"bridge", "proj_default"},
			endpoints: map[string]eo{"proj_default": {Aliases: []string{"a"}}}},
		// Compose: the mode is one of the service's networks, and each
		// network's aliases and address are its own.
		{name: "two user networks, each with its own alias and address", mode: "proj_back",
			eps: map[string]*network.EndpointSettings{
				"proj_back":  {Aliases: []string{"b"}},
				"proj_front": {Aliases: []string{"www"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.70.0.10")}},
			},
			networks: []string{"proj_back", "proj_front"},
			endpoints: map[string]eo{"proj_back": {Aliases: []string{"b"}},
				"proj_front": {Aliases: []string{"www"}, IPv4: netip.MustParseAddr("10.70.0.10")}}},
		{name: "host with a user network", mode: "host", eps: map[string]*network.EndpointSettings{"n": {}}, err: "not both"},
		{name: "another container's network", mode: "container:abc", err: "not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ro container.RunOptions
			err := networkOptions(&ro, tt.mode, &network.NetworkingConfig{EndpointsConfig: tt.eps})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || statusOf(err) != 400 {
					t.Fatalf("err = %v; want a 400 with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ro.Network != tt.network || !slices.Equal(ro.Networks, tt.networks) {
				t.Errorf("= Network %q Networks %q", ro.Network, ro.Networks)
			}
			if diff := cmp.Diff(tt.endpoints, ro.Endpoints, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCommitBadInput: what /commit refuses before it looks for the
// container (no store is open here).
func TestCommitBadInput(t *testing.T) {
	s := New(Options{})
	for _, tt := range []struct {
		path string
		code int
		word string
	}{
		{"/v1.44/commit", http.StatusBadRequest, "container is required"},
		{"/v1.44/commit?container=c&tag=1", http.StatusBadRequest, "without repo"},
		{"/v1.44/commit?container=c&changes=FROM+x", http.StatusBadRequest, "FROM"},
	} {
		rec := do(t, s, http.MethodPost, tt.path, "")
		if rec.Code != tt.code || !strings.Contains(message(t, rec), tt.word) {
			t.Errorf("POST %s = %d %q; want %d with %q", tt.path, rec.Code, rec.Body.String(), tt.code, tt.word)
		}
	}
}

// TestPluginsNone: lodger has no plugins. docker inspect NAME asks for
// a plugin after containers, images, networks and volumes; a 404 there
// lets Docker's CLI say "No such object", anything else is its error.
func TestPluginsNone(t *testing.T) {
	s := New(Options{})
	if rec := do(t, s, http.MethodGet, "/v1.50/plugins/nosuch/json", ""); rec.Code != http.StatusNotFound || !strings.Contains(message(t, rec), "nosuch") {
		t.Errorf("GET /plugins/nosuch/json = %d %q; want 404 naming it", rec.Code, rec.Body.String())
	}
	if rec := do(t, s, http.MethodGet, "/v1.50/plugins", ""); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("GET /plugins = %d %q; want 200 []", rec.Code, rec.Body.String())
	}
}

// TestCommitConfigOverlay: the body of /commit over the image's
// configuration, as Docker merges them.
func TestCommitConfigOverlay(t *testing.T) {
	base := func() imgspecv1.ImageConfig {
		return imgspecv1.ImageConfig{Env: []string{"PATH=/bin", "A=1"}, Entrypoint: []string{"/ep"}, Cmd: []string{"run"},
			Labels: map[string]string{"k": "v"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}, User: "1"}
	}
	for _, tt := range []struct {
		name string
		body string
		want func(*imgspecv1.ImageConfig)
	}{
		{"empty", `null`, func(*imgspecv1.ImageConfig) {}},
		{"env and labels key by key", `{"Env": ["A=2", "B=3"], "Labels": {"x": "y"}}`, func(c *imgspecv1.ImageConfig) {
			c.Env = []string{"PATH=/bin", "A=2", "B=3"}
			c.Labels = map[string]string{"k": "v", "x": "y"}
		}},
		{"cmd keeps the entrypoint", `{"Cmd": ["other"]}`, func(c *imgspecv1.ImageConfig) { c.Cmd = []string{"other"} }},
		{"entrypoint brings its command", `{"Entrypoint": ["/sh"]}`, func(c *imgspecv1.ImageConfig) {
			c.Entrypoint, c.Cmd = []string{"/sh"}, nil
		}},
		{"ports, volumes, user, workdir", `{"ExposedPorts": {"53/udp": {}}, "Volumes": {"/data": {}}, "User": "nobody", "WorkingDir": "/w", "StopSignal": "SIGINT"}`,
			func(c *imgspecv1.ImageConfig) {
				c.ExposedPorts["53/udp"] = struct{}{}
				c.Volumes = map[string]struct{}{"/data": {}}
				c.User, c.WorkingDir, c.StopSignal = "nobody", "/w", "SIGINT"
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body dockercontainer.Config
			if err := json.Unmarshal([]byte(tt.body), &body); err != nil {
				t.Fatal(err)
			}
			got, want := base(), base()
			overlayConfig(body)(&got)
			tt.want(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// A detached exec is the server's child: the server stays while it runs,
// so that its exit code can still be asked for.
func TestServeStaysForARunningExec(t *testing.T) {
	s := New(Options{})
	e := &execSession{ID: "x", Started: true, Running: true}
	s.execs.m[e.ID] = e
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln, 50*time.Millisecond) }()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while an exec ran", err)
	case <-time.After(500 * time.Millisecond):
	}
	e.finish(0)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v; want nil on the idle exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not exit once the exec ended")
	}
}

// An option the library refuses is called by the request's field, not by
// the CLI's flag, and is a 400.
func TestOptionErrorsNameTheField(t *testing.T) {
	err := fmt.Errorf("create container: %w", &container.OptionError{Option: container.OptSecurityOpt, Subject: `"bogus"`, Reason: "unknown option"})
	rec := httptest.NewRecorder()
	writeError(rec, err)
	if got, want := message(t, rec), `create container: HostConfig.SecurityOpt "bogus": unknown option`; rec.Code != http.StatusBadRequest || got != want {
		t.Errorf("= %d %q; want 400 %q", rec.Code, got, want)
	}
}

func TestLogConfigErrorsNameTheField(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, fmt.Errorf("create container: %w", &logfile.ConfigError{Setting: logfile.SettingDriver, Subject: `"syslog"`, Reason: "unknown driver"}))
	if got, want := message(t, rec), `create container: HostConfig.LogConfig.Type "syslog": invalid log option: unknown driver`; got != want {
		t.Errorf("message = %q; want %q", got, want)
	}
}

func TestEveryOptionHasAField(t *testing.T) {
	for o := container.OptSecurityOpt; o <= container.OptPull; o++ {
		if optionFields[o] == "" {
			t.Errorf("option %v has no field in optionFields", o)
		}
	}
}

// TestVirtualSizeForOldClients: image summaries carry VirtualSize for a
// client before API 1.44 (Docker 20.10's df reads it), and not after.
func TestVirtualSizeForOldClients(t *testing.T) {
	sums := []imagetypes.Summary{{ID: "sha256:1", Size: 42, SharedSize: 7}}
	for path, want := range map[string]bool{"/v1.41/images/json": true, "/v1.43/system/df": true, "/v1.44/images/json": false, "/images/json": false} {
		var got any
		h := New(Options{})
		h.mux = http.NewServeMux()
		h.mux.HandleFunc("/", func(_ http.ResponseWriter, r *http.Request) { got = withVirtualSize(r, sums) })
		h.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := json.Marshal(got)
		if has := strings.Contains(string(b), `"VirtualSize":42`); has != want {
			t.Errorf("%s: %s; want VirtualSize %v", path, b, want)
		}
		if !strings.Contains(string(b), `"Size":42`) || !strings.Contains(string(b), `"SharedSize":7`) {
			t.Errorf("%s: %s; want Size and SharedSize kept", path, b)
		}
	}
}

func TestFamiliarNames(t *testing.T) {
	for in, want := range map[string]string{"docker.io/library/busybox:latest": "busybox:latest", "docker.io/sweep/x:1": "sweep/x:1",
		"127.0.0.1:5000/a/b:v": "127.0.0.1:5000/a/b:v", "not a name": "not a name"} {
		if got := familiar(in); got != want {
			t.Errorf("familiar(%q) = %q; want %q", in, got, want)
		}
	}
}
