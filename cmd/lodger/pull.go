package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/config"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

// pullFlags are shared by pull and run.
type pullFlags struct {
	tlsVerify bool
	authFile  string
	platform  string
	arch      string
	os        string
	certDir   string
}

// register adds the registry and the platform flags (pull, run, create).
func (p *pullFlags) register(fs *pflag.FlagSet) {
	p.registerRegistry(fs)
	p.registerPlatform(fs)
}

// registerRegistry adds the flags about reaching a registry (also push
// and login).
func (p *pullFlags) registerRegistry(fs *pflag.FlagSet) {
	fs.BoolVar(&p.tlsVerify, "tls-verify", true, "require https and a verified certificate (false also allows plain http)")
	fs.StringVar(&p.authFile, "authfile", "", "path of the registry credentials file (default: the containers auth.json)")
	fs.StringVar(&p.certDir, "cert-dir", "", "directory of certificates (*.crt CAs, *.cert/*.key client pairs) for the registry (default: /etc/containers/certs.d/HOST)")
}

func (p *pullFlags) registerPlatform(fs *pflag.FlagSet) {
	fs.StringVar(&p.platform, "platform", "", "the image for OS/ARCH[/VARIANT] from a multi-platform image")
	fs.StringVar(&p.arch, "arch", "", "the image for this architecture (default: this machine's)")
	fs.StringVar(&p.os, "os", "", "the image for this operating system (default: linux)")
}

func (p *pullFlags) options(fs *pflag.FlagSet) image.Options {
	o := image.Options{AuthFile: p.authFile, CertDir: p.certDir, Platform: p.platform, Arch: p.arch, OS: p.os}
	// A bad lodger.toml is reported when the store is opened.
	if cfg, err := config.Load(); err == nil {
		o.MaxUnpackedSize, _ = cfg.MaxUnpackedSize()
	}
	if fs.Changed("tls-verify") {
		v := p.tlsVerify
		o.TLSVerify = &v
	}
	return o
}

type pullOptions struct {
	pullFlags
	quiet bool
}

func newPullCommand() *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [flags] IMAGE",
		Short: "Pull an image from a registry or an archive",
		Long: `Pull an image into local storage and print its ID.

IMAGE is a name resolved through registries.conf (short names, search
registries, mirrors), or a transport reference: docker://NAME,
oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF].`,
		Args: exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			po := o.options(cmd.Flags())
			if !o.quiet {
				po.Progress = os.Stderr
			}
			return interruptible(cmd, "pull "+args[0], func(ctx context.Context) error {
				id, err := image.Pull(ctx, store, args[0], po)
				if err != nil {
					return withBudgetHint(err)
				}
				container.EmitPull(args[0], id)
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			})
		},
	}
	o.register(cmd.Flags())
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return sessionCommand(cmd, 1)
}
