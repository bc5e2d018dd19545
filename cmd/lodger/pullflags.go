package main

import (
	"github.com/spf13/pflag"

	"github.com/lodger-containers/lodger/config"
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
