package main

import (
	"encoding/json"
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

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
storage:
  driver:        {{.Storage.Driver}}
  graph root:    {{.Storage.GraphRoot}}
  run root:      {{.Storage.RunRoot}}
  images:        {{.Storage.Images}}
  containers:    {{.Storage.Containers}}
network:
  /dev/net/tun:  {{.Network.Tun}}
  ping groups:   {{.Network.PingGroupRange}}
  unprivileged ports from: {{.Network.UnprivilegedPortStart}}
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
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			info, err := sysinfo.Collect(store)
			if err != nil {
				return err
			}
			info.Version = version
			out := cmd.OutOrStdout()
			switch o.format {
			case "", "text":
				return infoTemplate.Execute(out, info)
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return fmt.Errorf("--format %q: use text or json", o.format)
			}
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", "output format: text or json")
	return sessionCommand(cmd, 1)
}
