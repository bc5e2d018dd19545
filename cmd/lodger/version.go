package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/api/apiversion"
	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// The Engine API versions whose schema lodger's reports follow (those of
// the github.com/moby/moby/api types they are built on).
const (
	apiVersion    = apiversion.Current
	minAPIVersion = apiversion.Min
)

// versionReport is `version`'s report, with Docker's field names so that
// {{.Client.Version}} and {{.Server.APIVersion}} read as with docker.
// There is no daemon: the "server" is this machine's lodger, the one
// binary that both parses the command and runs the containers.
type versionReport struct {
	Client clientVersion
	Server *system.VersionResponse
}

// clientVersion is Docker CLI's client section.
type clientVersion struct {
	Platform          struct{ Name string }
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:",omitempty"`
	Context           string
}

const versionTemplate = `Client:{{if .Client.Platform.Name}} {{.Client.Platform.Name}}{{end}}
 Version:           {{.Client.Version}}
 API version:       {{.Client.APIVersion}}
 Go version:        {{.Client.GoVersion}}
 Git commit:        {{.Client.GitCommit}}
 Built:             {{.Client.BuildTime}}
 OS/Arch:           {{.Client.Os}}/{{.Client.Arch}}
 Context:           {{.Client.Context}}

Server: {{.Server.Platform.Name}}
{{- range $c := .Server.Components}}
 {{$c.Name}}:
  Version:          {{$c.Version}}
  API version:      {{index $c.Details "ApiVersion"}} (minimum version {{index $c.Details "MinAPIVersion"}})
  Go version:       {{index $c.Details "GoVersion"}}
  Git commit:       {{index $c.Details "GitCommit"}}
  Built:            {{index $c.Details "BuildTime"}}
  OS/Arch:          {{index $c.Details "Os"}}/{{index $c.Details "Arch"}}
  Experimental:     {{index $c.Details "Experimental"}}
{{- end}}`

func newVersionCommand() *cobra.Command {
	var formatValue string
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Show lodger's version",
		Long: `Show lodger's version in Docker's two sections: Client, the command, and
Server, this machine's lodger (there is no daemon; they are one binary).

--format is json or a Go template over Docker's fields, e.g.
{{.Client.Version}}, {{.Server.Version}}, {{.Server.APIVersion}},
{{.Server.Os}}/{{.Server.Arch}}, {{.Server.KernelVersion}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeVersion(cmd.OutOrStdout(), formatValue, newVersionReport())
		},
	}
	cmd.Flags().StringVarP(&formatValue, "format", "f", "", "json or a Go template")
	return cmd
}

func writeVersion(out io.Writer, value string, r versionReport) error {
	var t *template.Template
	var err error
	switch value {
	case "json":
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "":
		t, err = format.New(versionTemplate)
	default:
		t, err = format.New(value)
	}
	if err != nil {
		return err
	}
	return format.Execute(out, t, r)
}

func newVersionReport() versionReport {
	commit, built := buildVCS()
	c := clientVersion{Version: version, APIVersion: apiVersion, DefaultAPIVersion: apiVersion,
		GitCommit: commit, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
		BuildTime: built, Context: "default"}
	c.Platform.Name = "lodger"
	var uts unix.Utsname
	kernel := ""
	if unix.Uname(&uts) == nil {
		kernel = unix.ByteSliceToString(uts.Release[:])
	}
	s := &system.VersionResponse{Platform: system.PlatformInfo{Name: "lodger"}, Version: version,
		APIVersion: apiVersion, MinAPIVersion: minAPIVersion, Os: runtime.GOOS, Arch: runtime.GOARCH,
		GitCommit: commit, GoVersion: runtime.Version(), KernelVersion: kernel, BuildTime: built}
	s.Components = []system.ComponentVersion{{Name: "Engine", Version: version, Details: map[string]string{
		"ApiVersion": apiVersion, "MinAPIVersion": minAPIVersion, "GoVersion": s.GoVersion,
		"GitCommit": commit, "BuildTime": built, "Os": s.Os, "Arch": s.Arch, "KernelVersion": kernel,
		"Experimental": "false",
	}}}
	return versionReport{Client: c, Server: s}
}

// buildVCS is the commit and commit time the Go toolchain stamped.
func buildVCS() (commit, built string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 7 {
				commit = commit[:7]
			}
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				built = t.Format(time.ANSIC)
			}
		case "vcs.modified":
			if s.Value == "true" && commit != "" && !strings.HasSuffix(commit, "-dirty") {
				commit += "-dirty"
			}
		}
	}
	return commit, built
}
