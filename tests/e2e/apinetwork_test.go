//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAPINetworkComposeParity: a compose project on two networks of its
// own (one with its IPAM config and a fixed address, one internal) and
// an external one, as Docker's CLI and compose see it through the
// socket. Each network keeps its own aliases and address; docker ps
// finds a container on any of its networks, by name or ID, and lists
// them all; a second `up` finds nothing to recreate; `down` removes the
// project's networks without warnings; the external one stays.
func TestAPINetworkComposeParity(t *testing.T) {
	bin := os.Getenv("LODGER_TEST_COMPOSE")
	if bin == "" {
		t.Fatal("LODGER_TEST_COMPOSE is not set: run the suite with tests/e2e/run.sh, which builds docker compose")
	}
	e := isolatedEnv(t)
	s := startService(t, e, "--time", "0")
	e.pull(t, busybox, noTLS)
	e.pull(t, netImage(), noTLS)
	// --attachable is taken as Docker's daemon takes it for a local
	// network (testcontainers' WithAttachable sends it).
	wantOK(t, s.docker(t, "network", "create", "--attachable", "ext"))
	wantStdout(t, s.docker(t, "network", "inspect", "-f", "{{.Attachable}}", "ext"), "true\n")
	// lodger's network ls shows a network as Docker's CLI does, field
	// for field.
	var fromDocker, fromLodger map[string]string
	for _, x := range []struct {
		r   result
		out *map[string]string
	}{
		{s.docker(t, "network", "ls", "--filter", "name=^ext$", "--format", "{{json .}}"), &fromDocker},
		{e.lodger(t, "network", "ls", "--filter", "name=^ext$", "--format", "{{json .}}"), &fromLodger},
	} {
		if err := json.Unmarshal([]byte(x.r.stdout), x.out); err != nil {
			t.Fatalf("%s: %v", x.r, err)
		}
	}
	if diff := cmp.Diff(fromDocker, fromLodger); diff != "" {
		t.Errorf("network ls {{json .}}: Docker's CLI (-) and lodger's (+) differ:\n%s", diff)
	}
	dir := filepath.Join(e.home, "proj")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	project := `services:
  web:
    image: ` + busybox + `
    command: ["sleep", "300"]
    stop_grace_period: 1s
    networks:
      front:
        aliases: [www]
        ipv4_address: 10.70.0.10
      back:
        aliases: [api]
  app:
    image: ` + busybox + `
    command: ["sleep", "300"]
    stop_grace_period: 1s
    networks: [back, ext]
networks:
  front:
    ipam:
      config:
        - subnet: 10.70.0.0/24
          gateway: 10.70.0.1
  back:
    internal: true
  ext:
    external: true
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(project), 0o600); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		t.Helper()
		return call{env: e, bin: bin, extra: []string{"DOCKER_HOST=unix://" + s.sock, "DOCKER_CONFIG=" + filepath.Join(e.home, ".docker")}}.
			run(t, append([]string{"--project-directory", dir, "-p", "proj"}, args...)...)
	}
	wantCode(t, compose("up", "-d"), 0)

	// Each network has web's own alias and address there.
	r := s.docker(t, "inspect", "-f", "{{json .NetworkSettings.Networks}}", "proj-web-1")
	var eps map[string]struct {
		Aliases   []string
		IPAddress string
		NetworkID string
	}
	if err := json.Unmarshal([]byte(r.stdout), &eps); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	if ep := eps["proj_front"]; ep.IPAddress != "10.70.0.10" || !slices.Contains(ep.Aliases, "www") || slices.Contains(ep.Aliases, "api") {
		t.Errorf("web on proj_front: %+v; want ipv4_address 10.70.0.10 and alias www (not api)", ep)
	}
	if ep := eps["proj_back"]; !slices.Contains(ep.Aliases, "api") || slices.Contains(ep.Aliases, "www") || ep.IPAddress == "" {
		t.Errorf("web on proj_back: %+v; want an address and alias api (not www)", ep)
	}
	r = s.docker(t, "run", "--rm", "--network", "proj_front", netImage(), "nettool", "resolve", "www")
	wantStdout(t, r, "10.70.0.10\n")
	// Docker's per-network syntax, MAC address included, and the CLI's
	// --mac-address.
	r = s.docker(t, "run", "--rm", "--network", "name=proj_front,alias=one,ip=10.70.0.99,mac-address=02:42:0a:46:00:63",
		busybox, "sh", "-c", "cat /sys/class/net/eth0/address; ip -4 -o addr show eth0")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "02:42:0a:46:00:63\n") || !strings.Contains(r.stdout, "10.70.0.99/24") {
		t.Errorf("docker run --network name=proj_front,ip=...,mac-address=...: %s", r)
	}
	wantStdout(t, e.lodger(t, "run", "--rm", "--network", "ext", "--mac-address", "02:42:0a:46:00:64", busybox, "cat", "/sys/class/net/eth0/address"), "02:42:0a:46:00:64\n")
	r = e.lodger(t, "run", "--rm", "--network", "ext", "--mac-address", "01:00:5e:00:00:01", busybox, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "unicast") {
		t.Errorf("run --mac-address of a multicast address: %s; want exit 125 asking for a unicast address", r)
	}

	// docker ps: by any of a container's networks, by name or ID, and
	// every network in its Networks column.
	if r := s.docker(t, "ps", "--filter", "network=proj_back", "--format", "{{.Names}}"); !slices.Equal(slices.Sorted(slices.Values(lines(r.stdout))), []string{"proj-app-1", "proj-web-1"}) {
		t.Errorf("docker ps --filter network=proj_back: %q; want proj-app-1 and proj-web-1", r.stdout)
	}
	wantStdout(t, s.docker(t, "ps", "--filter", "network=proj_front", "--format", "{{.Names}}"), "proj-web-1\n")
	wantStdout(t, s.docker(t, "ps", "--filter", "network=ext", "--format", "{{.Names}}"), "proj-app-1\n")
	frontID := strings.TrimSpace(s.docker(t, "network", "inspect", "-f", "{{.Id}}", "proj_front").stdout)
	wantStdout(t, s.docker(t, "ps", "--filter", "network="+frontID, "--format", "{{.Names}}"), "proj-web-1\n")
	r = s.docker(t, "ps", "--filter", "name=proj-web-1", "--format", "{{.Networks}}")
	if got := strings.Split(strings.TrimSpace(r.stdout), ","); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"proj_back", "proj_front"}) {
		t.Errorf("docker ps Networks of web: %q; want proj_back and proj_front", r.stdout)
	}

	// --aux-address: never a container's, shown in inspect; --ipv4=false
	// is refused, not ignored.
	wantOK(t, s.docker(t, "network", "create", "--subnet", "10.72.0.0/29", "--aux-address", "router=10.72.0.2", "auxnet"))
	r = s.docker(t, "run", "--rm", "--network", "auxnet", busybox, "ip", "-4", "-o", "addr", "show", "eth0")
	if !strings.Contains(r.stdout, " 10.72.0.3/29 ") {
		t.Errorf("first container on auxnet: %s; want 10.72.0.3, past the gateway .1 and the auxiliary .2", r)
	}
	wantStdout(t, s.docker(t, "network", "inspect", "-f", "{{json (index .IPAM.Config 0).AuxiliaryAddresses}} {{json .Options}}", "auxnet"), `{"router":"10.72.0.2"} {}`+"\n")
	wantDockerError(t, s.docker(t, "network", "create", "--ipv4=false", "--ipv6", "v6only"), 1, "IPv4")
	// A container joins and leaves its networks as it starts and ends:
	// Docker's network connect and disconnect events, through the socket
	// (the monitor) and from a foreground lodger run alike.
	wantCode(t, e.runRm(t, "--network", "auxnet", busybox, "true"), 0)
	// Docker's CLI sends --until 0s in whole seconds: wait for the next
	// one, or this second's events are after it.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	r = s.docker(t, "events", "--since", "10m", "--until", "0s", "--filter", "type=network", "--filter", "network=auxnet", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	wantStdout(t, r, "create auxnet\nconnect auxnet\ndisconnect auxnet\nconnect auxnet\ndisconnect auxnet\n")
	wantOK(t, s.docker(t, "network", "rm", "auxnet"))

	// The predefined bridge lists the default network's running
	// containers, the same through the CLI and the socket.
	wantOK(t, s.docker(t, "run", "-d", "--name", "dflt", busybox, "sleep", "300"))
	for _, r := range []result{
		e.lodger(t, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "bridge"),
		s.docker(t, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "bridge"),
	} {
		wantStdout(t, r, "dflt 10.0.2.100/24\n")
	}
	wantOK(t, s.docker(t, "rm", "-f", "dflt"))

	// Nothing changed: a second up keeps the containers, as Docker's.
	r = compose("up", "-d")
	wantCode(t, r, 0)
	if strings.Contains(r.stderr, "Recreate") {
		t.Errorf("a second compose up with nothing changed recreated containers:\n%s", r)
	}

	// down removes the project's networks, each once, and leaves ext.
	r = compose("down")
	wantCode(t, r, 0)
	if strings.Contains(r.stderr, "No resource found") || strings.Count(r.stderr, "Network proj_back Removing") != 1 {
		t.Errorf("compose down: want each network removed once, without warnings:\n%s", r)
	}
	wantStdout(t, s.docker(t, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"), "ext\n")

	// An unknown name is Docker's "No such object", whatever it is.
	r = s.docker(t, "inspect", "nosuchthing")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "No such object: nosuchthing") {
		t.Errorf("docker inspect nosuchthing: %s; want Docker's \"No such object\"", r)
	}
}
