package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] CONTAINER [CONTAINER...]",
		Short: "Show containers' configuration and state as JSON",
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
			var infos []container.Info
			var errs []error
			for _, ref := range args {
				in, err := container.Get(store, ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				infos = append(infos, in)
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
					infos = []container.Info{}
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
