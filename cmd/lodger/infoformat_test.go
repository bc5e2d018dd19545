package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/sysinfo"
)

// info --format reads Docker's info fields and lodger's own beside them;
// json carries both, so docker's jq scripts and lodger's tests read it.
func TestInfoFormat(t *testing.T) {
	info := &sysinfo.Info{Host: sysinfo.Host{Rootless: true, Arch: "x86_64"},
		Storage: sysinfo.Storage{Driver: "overlay", GraphRoot: "/g", Images: 2}}
	run := func(format string) string {
		t.Helper()
		var b bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&b)
		if err := printInfo(cmd, infoOptions{format: format, counts: [3]int{1, 0, 2}}, info); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got := run("{{.Driver}} {{.DockerRootDir}} {{.Images}} {{.ContainersRunning}}/{{.ContainersStopped}} {{.Storage.Driver}} {{.Host.Rootless}} {{.ServerVersion}}"); got != "overlay /g 2 1/2 overlay true "+version+"\n" {
		t.Errorf("template: %q", got)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(run("json")), &m); err != nil {
		t.Fatal(err)
	}
	if m["Driver"] != "overlay" || m["Architecture"] != "x86_64" || m["storage"].(map[string]any)["graphRoot"] != "/g" || m["host"].(map[string]any)["rootless"] != true {
		t.Errorf("json: %v", m)
	}
	var b bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&b)
	if err := printInfo(cmd, infoOptions{format: "{{.Nosuch}}"}, info); err == nil || b.Len() != 0 {
		t.Errorf("unknown field: %v, printed %q", err, b.String())
	}
}
