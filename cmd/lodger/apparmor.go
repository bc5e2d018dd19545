package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/rootless/session"
)

func newSystemAppArmorProfileCommand() *cobra.Command {
	var bindir string
	cmd := &cobra.Command{
		Use:   "apparmor-profile [--bindir DIR]",
		Short: "Print the AppArmor profile that allows lodger's programs user namespaces (Ubuntu 23.10 and later)",
		Long: `Print lodger's AppArmor profile for the programs in DIR (default: where this
lodger is). Where kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10
and later), a program may create user namespaces only under such a profile.
An administrator installs and loads it once:

  lodger system apparmor-profile | sudo tee /etc/apparmor.d/lodger >/dev/null
  sudo apparmor_parser -r /etc/apparmor.d/lodger

'make install' does the same for the installed programs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bindir == "" {
				self, err := os.Executable()
				if err != nil {
					return err
				}
				if p, err := filepath.EvalSymlinks(self); err == nil {
					self = p
				}
				bindir = filepath.Dir(self)
			}
			_, err := cmd.OutOrStdout().Write([]byte(session.AppArmorProfile(filepath.Clean(bindir))))
			return err
		},
	}
	cmd.Flags().StringVar(&bindir, "bindir", "", "directory the profile attaches lodger's programs in (default: this lodger's)")
	return cmd
}
