package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

// inspectFormatHelp is the --format help every inspect shares.
const inspectFormatHelp = `json (the default) or a Go template, e.g. {{.State.Status}}`

func newInspectCommand() *cobra.Command {
	var format, kind string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [flags] NAME|ID [NAME|ID...]",
		Short: "Show containers', images' or volumes' configuration and state",
		Long: `Show containers, images or volumes in Docker's inspect schema, as a JSON
array or through a Go template (--format). A name is looked up as a
container, then an image, then a volume, as Docker's inspect does;
--type looks up one kind only.

The container schema is Docker Engine API's: .Id, .Name ("/NAME"), .State
(.Status .Running .Pid .ExitCode .StartedAt .FinishedAt), .Config (.Image
.Env .Cmd .Entrypoint .Labels .ExposedPorts ...), .HostConfig, .Mounts,
.NetworkSettings.Ports. What lodger knows beyond Docker's fields is in
.Lodger: .Lodger.MonitorPid, .Lodger.Network (the userspace stack's
options), .Lodger.Volumes. Fields are reached by their Go names or their
JSON names ({{.ID}} and {{.Id}}).`,
		Args: minArgs(1, "NAME|ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch kind {
			case "", "container", "image", "volume":
			default:
				return fmt.Errorf("--type %q: use container, image or volume", kind)
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			var items []any
			var errs []error
			for _, ref := range args {
				it, err := inspectOne(cmd, store, kind, ref, size)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				items = append(items, it)
			}
			if err := writeInspect(cmd.OutOrStdout(), format, items); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().StringVar(&kind, "type", "", "look up container, image or volume only")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "add a container's sizes (SizeRw, SizeRootFs)")
	return sessionCommand(cmd, 1)
}

// inspectOne finds ref as a container, an image, then a volume (or as
// kind only) and reports it in Docker's schema.
func inspectOne(cmd *cobra.Command, store cstorage.Store, kind, ref string, size bool) (any, error) {
	if kind == "" || kind == "container" {
		if _, err := container.Get(store, ref); err == nil {
			r, err := container.Inspect(cmd.Context(), store, ref)
			if err == nil && size {
				container.AddSizes(store, r)
			}
			return r, err
		}
	}
	if kind == "" || kind == "image" {
		if img, err := image.InspectImage(cmd.Context(), store, ref); err == nil {
			return img, nil
		} else if !errors.Is(err, image.ErrNotFound) && kind == "image" {
			return nil, fmt.Errorf("inspect %s: %w", ref, err)
		}
	}
	if kind == "" || kind == "volume" {
		if v, err := container.VolumeStore(store).Get(ref); err == nil {
			return v.Report(), nil
		}
	}
	what := "object"
	if kind != "" {
		what = kind
	}
	return nil, fmt.Errorf("no such %s: %s", what, ref)
}

// writeInspect prints inspect reports as Docker does: an indented JSON
// array, or each report through the template (see format.Inspect).
func writeInspect(out io.Writer, value string, items []any) error {
	if value == "" || value == "json" {
		if items == nil {
			items = []any{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "    ")
		enc.SetEscapeHTML(false)
		return enc.Encode(items)
	}
	t, err := format.New(value)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := format.Inspect(out, t, it); err != nil {
			return err
		}
	}
	return nil
}
