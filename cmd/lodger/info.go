package main

import (
	"encoding/json"
	"errors"
	"sync"
	"text/template"

	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/rootless/session"
	"github.com/lodger-containers/lodger/sysinfo"
)

// infoTemplate is parsed when `lodger info` runs, not at every command's
// start (800 allocations).
var infoTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("info").Parse(infoText))
})

const infoText = `lodger {{.Version}}
host:
  kernel:        {{.Host.Kernel}}
  os/arch:       {{.Host.OS}}/{{.Host.Arch}}
  rootless:      {{.Host.Rootless}}
  user:          {{.Host.User}} (uid {{.Host.UID}}, gid {{.Host.GID}})
id mapping:{{if .IDMap.Single}}      single id only (no /etc/subuid range){{end}}
  uid map:{{range .IDMap.UIDs}} {{.Container}}:{{.Host}}:{{.Size}}{{end}}
  gid map:{{range .IDMap.GIDs}} {{.Container}}:{{.Host}}:{{.Size}}{{end}}
  newuidmap:     {{or .Host.NewUIDMap "not found (install uidmap)"}}
session:
  made by:       {{with .Session.Helper}}{{.}} ({{$.Session.HelperProgram}}){{else}}no session running{{end}}
  helper:        {{with .Session.Configured}}{{.}} ({{$.Session.ConfiguredBy}}){{else}}unknown{{end}}{{with .Session.Next}}; a new session: {{.}}, as {{$.Session.NextReason}}{{end}}
  rootlesskit:   {{or .Session.Rootlesskit "not found"}}
  user namespaces: {{with .Session.UsernsRestriction}}restricted by AppArmor ({{.}}=1){{with $.Session.KeeperProfile}}; {{.}} allows lodger{{end}}{{else}}not restricted by AppArmor{{end}}{{with .Session.Label}}
  AppArmor label: {{.}}{{end}}{{with .Session.Problem}}
  problem:       {{.}}{{end}}
storage:{{if not .Storage.Driver}} unavailable without a session{{else}}
  driver:        {{.Storage.Driver}}
  graph root:    {{.Storage.GraphRoot}}
  run root:      {{.Storage.RunRoot}}
  images:        {{.Storage.Images}}
  containers:    {{.Storage.Containers}}{{end}}
network:
  /dev/net/tun:  {{.Network.Tun}}
  ping groups:   {{.Network.PingGroupRange}}
  unprivileged ports from: {{.Network.UnprivilegedPortStart}}
cgroups:
  version:       {{.Cgroups.Mode}}
  pause:         {{.Cgroups.Pause}}
  stats from:    {{.Cgroups.Stats}}
  limits:        {{.Cgroups.Limits}}
`

type infoOptions struct {
	format string
	counts [3]int // running, paused, stopped containers
}

func newInfoCommand() *cobra.Command {
	var o infoOptions
	cmd := &cobra.Command{
		Use:   "info [flags]",
		Short: "Show how lodger is set up on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "" && o.format != "text" && o.format != "json" {
				if _, err := format.New(o.format); err != nil {
					return err
				}
			}
			// info is where a user looks when the session cannot be
			// made (issue 19: AppArmor on Ubuntu): it enters the
			// session itself and, failing, reports all but storage.
			if err := session.Enter(); err != nil {
				info, cerr := sysinfo.Collect(nil)
				if cerr != nil {
					return errors.Join(err, cerr)
				}
				info.Session.Problem = err.Error()
				if perr := printInfo(cmd, o, info); perr != nil {
					return errors.Join(err, perr)
				}
				return err
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			info, err := sysinfo.Collect(store)
			if err != nil {
				return err
			}
			o.counts = countContainers(store)
			return printInfo(cmd, o, info)
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", "text, json, or a Go template over Docker's info fields (e.g. {{.Driver}}) and lodger's (e.g. {{.Storage.GraphRoot}})")
	return cmd
}

func printInfo(cmd *cobra.Command, o infoOptions, info *sysinfo.Info) error {
	info.Version = version
	out := cmd.OutOrStdout()
	switch o.format {
	case "", "text":
		return infoTemplate().Execute(out, info)
	}
	r := infoReport{Info: info.Docker(), LodgerInfo: *info}
	r.ContainersRunning, r.ContainersPaused, r.ContainersStopped = o.counts[0], o.counts[1], o.counts[2]
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	t, err := format.New(o.format)
	if err != nil {
		return err
	}
	return format.Execute(out, t, r)
}

// infoReport is what info --format sees: Docker's info fields
// ({{.Driver}}, {{.DockerRootDir}}, {{.ServerVersion}}, ...) and, beside
// them with their own lower-case JSON names, lodger's ({{.Host.Rootless}},
// {{.Storage.GraphRoot}}, {{.Session.Helper}}, ...); no name is in both.
type infoReport struct {
	system.Info
	LodgerInfo
}

// LodgerInfo is sysinfo.Info under a name of its own, so that it embeds
// beside Docker's Info.
type LodgerInfo = sysinfo.Info

// countContainers is the running, paused and stopped containers.
func countContainers(store cstorage.Store) (n [3]int) {
	infos, _ := container.List(store)
	for _, in := range infos {
		switch {
		case in.State.Status == monitor.StatusRunning && in.State.Paused:
			n[1]++
		case in.State.Status == monitor.StatusRunning:
			n[0]++
		default:
			n[2]++
		}
	}
	return n
}
