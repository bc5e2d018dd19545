package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/rootless/session"
	"github.com/lodger-containers/lodger/sysinfo"
)

var infoTemplate = template.Must(template.New("info").Parse(`lodger {{.Version}}
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
`))

type infoOptions struct {
	format string
}

func newInfoCommand() *cobra.Command {
	var o infoOptions
	cmd := &cobra.Command{
		Use:   "info [flags]",
		Short: "Show how lodger is set up on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "" && o.format != "text" && o.format != "json" {
				return fmt.Errorf("--format %q: use text or json", o.format)
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
			return printInfo(cmd, o, info)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", "output format: text or json")
	return cmd
}

func printInfo(cmd *cobra.Command, o infoOptions, info *sysinfo.Info) error {
	info.Version = version
	out := cmd.OutOrStdout()
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	return infoTemplate.Execute(out, info)
}
