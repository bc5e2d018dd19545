package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/imagepull"
)

func newInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] CONTAINER [CONTAINER...]",
		Short: "Show containers' or images' configuration and state as JSON",
		Args:  minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" {
				t, err := template.New("format").Funcs(template.FuncMap{"json": func(v any) (string, error) {
					b, err := json.Marshal(v)
					return string(b), err
				}}).Parse(format)
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				tmpl = t
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			// Containers first, then images, as Docker's inspect looks.
			var infos []any
			var errs []error
			for _, ref := range args {
				if in, err := container.Get(store, ref); err == nil {
					infos = append(infos, in)
					continue
				}
				img, err := imagepull.Inspect(cmd.Context(), store, ref)
				if err != nil {
					errs = append(errs, fmt.Errorf("no such container or image %q", ref))
					continue
				}
				infos = append(infos, img)
			}
			out := cmd.OutOrStdout()
			if tmpl != nil {
				for _, in := range infos {
					if err := tmpl.Execute(out, in); err != nil {
						return fmt.Errorf("--format: %w", err)
					}
					fmt.Fprintln(out)
				}
			} else {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "    ")
				if infos == nil {
					infos = []any{}
				}
				if err := enc.Encode(infos); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Go template, e.g. {{.State.Status}}")
	return sessionCommand(cmd, 1)
}
