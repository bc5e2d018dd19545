// Command imagegen builds the OCI images lodger's tests and benchmarks pull.
//
// Layers are written directly with archive/tar (fixed mtimes, sorted
// entries, so a rebuild gives the same digests) into an OCI image layout in
// a temporary directory, which is then pushed to a registry over plain HTTP
// or packed as an oci-archive.
//
// Usage:
//
//	imagegen -registry 127.0.0.1:5000 [-busybox /bin/busybox] [-checker PATH] [-nettool PATH] [-getent PATH]
//		Build the whole test set from a static busybox and push it below
//		lodger-test/ (busybox:latest, busybox:zstd, layers, multiarch,
//		config, evil-dotdot, evil-symlink, evil-hardlink, and for the
//		security tests evil-devsymlink, evil-devnull, evil-devconsole,
//		evil-devpts, evil-procsymlink, evil-syssymlink, evil-masklinks,
//		evil-etchosts, evil-passwd-host, evil-passwd-fifo, evil-passwd-zero,
//		evil-workdir, and sparse-bomb for the unpack budget), printing one
//		reference per line. With -checker, also checker:latest: busybox
//		plus the static tests/checker binary as /usr/local/bin/checker.
//		With -nettool, also net:latest: busybox plus the static
//		tests/nettool binary as /usr/bin/nettool, exposing 8080/tcp and
//		9090/udp. With -getent, also getent:latest: busybox plus the
//		host's (dynamically linked) getent, the shared libraries it and
//		glibc's files and dns NSS modules need, and an nsswitch.conf of
//		hosts: files dns.
//
//	imagegen -oci-archive out.tar [-busybox /bin/busybox] [-tag busybox:latest] [-compress gzip|zstd]
//		Write only the basic busybox image as an oci-archive, usable
//		offline as oci-archive:out.tar.
//
//	imagegen -rootfs DIR -push 127.0.0.1:5000/bench/debian:latest [-compress gzip|zstd]
//	imagegen -rootfs DIR -oci-archive out.tar [-tag NAME] [-compress gzip|zstd]
//		Pack a directory tree (say a debootstrap rootfs; run as root to
//		read all of it) as a single-layer image with Cmd ["/bin/sh"].
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagegen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage:
  imagegen -registry HOST:PORT [-busybox PATH] [-checker PATH] [-nettool PATH] [-getent PATH]
  imagegen -oci-archive FILE [-busybox PATH] [-tag NAME] [-compress gzip|zstd]
  imagegen -rootfs DIR (-push HOST:PORT/REPO:TAG | -oci-archive FILE [-tag NAME]) [-compress gzip|zstd]
`)
		fs.PrintDefaults()
	}
	var (
		registryHost = fs.String("registry", "", "push the test set to this registry (`host:port`, plain HTTP)")
		busyboxPath  = fs.String("busybox", "/bin/busybox", "static x86-64 busybox to build the test images from")
		checkerPath  = fs.String("checker", "", "static x86-64 tests/checker binary for the image lodger-test/checker (left out without)")
		nettoolPath  = fs.String("nettool", "", "static x86-64 tests/nettool binary for the image lodger-test/net (left out without)")
		getentPath   = fs.String("getent", "", "the host's glibc getent for the image lodger-test/getent (left out without)")
		archivePath  = fs.String("oci-archive", "", "write an oci-archive to this `file` instead of pushing")
		tag          = fs.String("tag", "", "reference name of the image in the oci-archive (default busybox:latest, or bench/rootfs:latest with -rootfs)")
		rootfs       = fs.String("rootfs", "", "pack this `directory` as a single-layer image")
		pushRef      = fs.String("push", "", "push the -rootfs image as `host:port/repo:tag`")
		compress     = fs.String("compress", "gzip", "layer compression of -rootfs and -oci-archive images: gzip or zstd")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	comp, err := parseCompression(*compress)
	if err != nil {
		return usageError(fs, "%v", err)
	}

	switch {
	case *rootfs != "":
		if set["registry"] || set["busybox"] || set["checker"] || set["nettool"] || set["getent"] {
			return usageError(fs, "-rootfs does not take -registry, -busybox, -checker or -nettool")
		}
		if (*pushRef == "") == (*archivePath == "") {
			return usageError(fs, "-rootfs needs exactly one of -push or -oci-archive")
		}
		if *pushRef != "" && set["tag"] {
			return usageError(fs, "-tag is for -oci-archive; -push names the image")
		}
	case *registryHost != "":
		if *archivePath != "" || *pushRef != "" || set["tag"] || set["compress"] {
			return usageError(fs, "-registry pushes the fixed test set and takes only -busybox, -checker, -nettool and -getent")
		}
		if strings.Contains(*registryHost, "/") {
			return usageError(fs, "-registry wants host:port, got %q", *registryHost)
		}
	case *archivePath != "":
		if *pushRef != "" {
			return usageError(fs, "-push needs -rootfs")
		}
		if set["checker"] || set["nettool"] || set["getent"] {
			return usageError(fs, "-checker, -nettool and -getent are for -registry")
		}
	default:
		return usageError(fs, "need -registry, -oci-archive or -rootfs")
	}

	tmp, err := os.MkdirTemp("", "imagegen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	l, err := createLayout(tmp)
	if err != nil {
		return err
	}

	var host string
	switch {
	case *rootfs != "":
		name := *tag
		if *pushRef != "" {
			if host, name, err = splitPushRef(*pushRef); err != nil {
				return err
			}
		} else if name == "" {
			name = "bench/rootfs:latest"
		}
		if err := buildRootfs(l, *rootfs, comp, name, stderr); err != nil {
			return err
		}
	case *registryHost != "":
		host = *registryHost
		bb, err := loadBusybox(*busyboxPath)
		if err != nil {
			return err
		}
		var checker []byte
		if *checkerPath != "" {
			if checker, err = loadStatic("checker", *checkerPath); err != nil {
				return err
			}
		}
		var nettool []byte
		if *nettoolPath != "" {
			if nettool, err = loadStatic("nettool", *nettoolPath); err != nil {
				return err
			}
		}
		if err := buildTestSet(l, bb, checker, nettool); err != nil {
			return err
		}
		if *getentPath != "" {
			if err := buildGetentImage(l, bb, *getentPath); err != nil {
				return err
			}
		}
	default:
		name := *tag
		if name == "" {
			name = "busybox:latest"
		}
		bb, err := loadBusybox(*busyboxPath)
		if err != nil {
			return err
		}
		if err := buildBusybox(l, bb, comp, name); err != nil {
			return err
		}
	}
	if err := l.finish(); err != nil {
		return err
	}

	if *archivePath != "" {
		return l.writeArchive(*archivePath)
	}
	refs, err := newRegistry(host).pushLayout(ctx, l)
	for _, ref := range refs {
		fmt.Fprintln(stdout, ref)
	}
	return err
}

// errUsage marks command-line mistakes, which have been reported together
// with the usage text already.
var errUsage = errors.New("usage")

func usageError(fs *flag.FlagSet, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(fs.Output(), "imagegen: %s\n", msg)
	fs.Usage()
	return fmt.Errorf("%s: %w", msg, errUsage)
}
