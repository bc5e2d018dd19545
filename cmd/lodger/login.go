//go:build lodger_transfer

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/config"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/transfer"
)

type loginOptions struct {
	pullFlags
	username      string
	password      string
	passwordStdin bool
}

func newLoginCommand() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   loginDoc.use,
		Short: loginDoc.short,
		Long: `Check a user name and password against a registry and store them in the
auth file ($XDG_RUNTIME_DIR/containers/auth.json by default, shared with
podman, skopeo and buildah; $XDG_CONFIG_HOME/containers/auth.json, which they
read too, when XDG_RUNTIME_DIR is unset; written 0600). Prefer --password-stdin to -p:
a password on the command line is visible to other users in ps.`,
		Args: exactArgs(1, "REGISTRY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			registry := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
			if o.password != "" && o.passwordStdin {
				return errors.New("login: use either -p or --password-stdin, not both")
			}
			if o.password != "" {
				fmt.Fprintln(os.Stderr, "lodger: warning: a password on the command line is insecure; use --password-stdin")
			}
			in := bufio.NewReader(cmd.InOrStdin())
			stdinTerm := false
			if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				stdinTerm = true
			}
			if o.username == "" {
				if o.passwordStdin || !stdinTerm {
					return fmt.Errorf("login %s: a user name is needed: use -u USER", registry)
				}
				fmt.Fprint(os.Stderr, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("login %s: read user name: %w", registry, err)
				}
				o.username = strings.TrimSpace(line)
			}
			password := o.password
			switch {
			case o.passwordStdin:
				b, err := io.ReadAll(in)
				if err != nil {
					return fmt.Errorf("login %s: read password: %w", registry, err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			case password == "" && stdinTerm:
				fmt.Fprint(os.Stderr, "Password: ")
				b, err := term.ReadPassword(int(cmd.InOrStdin().(*os.File).Fd()))
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return fmt.Errorf("login %s: read password: %w", registry, err)
				}
				password = string(b)
			}
			if password == "" {
				return fmt.Errorf("login %s: a password is needed: use --password-stdin", registry)
			}
			po := o.options(cmd.Flags())
			if po.AuthFile == "" {
				po.AuthFile = config.AuthFile()
			}
			if _, err := transfer.Login(cmd.Context(), registry, o.username, password, po); err != nil {
				if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
					return withRegistryHint(err)
				}
				return fmt.Errorf("%w\ncheck the registry address, user name and password", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded!")
			return nil
		},
	}
	o.registerRegistry(cmd.Flags())
	cmd.Flags().StringVarP(&o.username, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&o.password, "password", "p", "", "password (insecure: visible in ps; prefer --password-stdin)")
	cmd.Flags().BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from stdin")
	return sessionCommand(cmd, 1)
}

type logoutOptions struct {
	authFile string
	all      bool
}

func newLogoutCommand() *cobra.Command {
	var o logoutOptions
	cmd := &cobra.Command{
		Use:   logoutDoc.use,
		Short: logoutDoc.short,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.all && len(args) > 0 {
				return fmt.Errorf("%q takes either REGISTRY or --all\nSee 'lodger %s --help'.", cmd.CommandPath(), cmd.Name())
			}
			if !o.all && len(args) != 1 {
				return fmt.Errorf("%q requires exactly 1 argument (REGISTRY) or --all\nSee 'lodger %s --help'.", cmd.CommandPath(), cmd.Name())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			po := image.Options{AuthFile: o.authFile}
			if po.AuthFile == "" {
				po.AuthFile = config.AuthFile()
			}
			if o.all {
				if err := transfer.Logout("", po); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Removed login credentials for all registries")
				return nil
			}
			registry := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
			if err := transfer.Logout(registry, po); err != nil {
				return fmt.Errorf("%w\n(`lodger logout --all` removes every stored credential)", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed login credentials for %s\n", registry)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.authFile, "authfile", "", "path of the registry credentials file (default: the containers auth.json)")
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "remove the credentials of every registry")
	return sessionCommand(cmd, 1)
}
