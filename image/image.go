// Package image is the local side of the image lifecycle, on
// go.podman.io/image/v5 and go.podman.io/storage: finding images already
// present (Lookup, by ID, name or the names a short name may stand for
// in registries.conf) and reading their configuration, listing and
// filtering them (list.go), tagging (tag.go), history and inspection,
// removal, pruning and disk usage (prune.go), and making images locally
// from one new layer (commit.go: commit and import, with Dockerfile
// --change instructions, change.go; buildcommit.go, build's steps).
//
// What moves images in and out (pull from registries and archives, push,
// save, load, search, login) is package image/transfer: it links
// containers/image's registry client, copy and signature code, which
// every lodger command would otherwise initialise (docs/architecture.md,
// "Start-up"). Options, the pull's options, live here: Lookup resolves
// short names with them and run checks an image's platform against them.
// Every layer written (here or by transfer) is metered by
// image/internal/unpack's budget.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	storageTransport "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/image/internal/unpack"
)

// Options tune a pull.
type Options struct {
	// TLSVerify false allows plain http and unverified certificates for
	// every registry; nil leaves the choice to registries.conf.
	TLSVerify *bool
	// Progress receives one line per blob; nil is silent.
	Progress io.Writer
	// Blobs, when set, receives each blob's progress with its byte
	// counts (the Engine API's JSON progress is made of it). It is called
	// from the pull's or push's goroutines, one call at a time.
	Blobs func(BlobProgress)
	// AuthFile overrides the auth.json location.
	AuthFile string
	// Platform (OS/ARCH[/VARIANT]), or Arch and OS, choose from a
	// multi-platform image; empty means this machine's.
	Platform string
	Arch     string
	OS       string
	// CertDir is a directory of *.crt (CA), *.cert and *.key (client)
	// files used for every registry instead of
	// /etc/containers/certs.d/HOST.
	CertDir string
	// RegistriesConf and RegistriesConfDir replace registries.conf and
	// its drop-in directory; empty means the system and user files.
	RegistriesConf    string
	RegistriesConfDir string
	// SignaturePolicy replaces policy.json.
	SignaturePolicy string
	// MaxUnpackedSize bounds what an image's layers may unpack to
	// together, counted as the logical size of every tar entry plus a
	// header's worth for each (budget.go), so that compression and
	// sparse-file bombs are stopped; zero means DefaultMaxUnpackedSize.
	// It applies to every path that writes layers: pull, load, import.
	MaxUnpackedSize int64
	// Credentials, when set, are used instead of the auth file's.
	Credentials *Credentials
}

// UnpackLimit is MaxUnpackedSize, or DefaultMaxUnpackedSize when unset.
func (o Options) UnpackLimit() int64 {
	if o.MaxUnpackedSize > 0 {
		return o.MaxUnpackedSize
	}
	return DefaultMaxUnpackedSize
}

// platform returns the OS, architecture and variant asked for.
func (o Options) platform() (osName, arch, variant string, err error) {
	osName, arch = o.OS, o.Arch
	if o.Platform != "" {
		parts := strings.Split(o.Platform, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return "", "", "", fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT], such as linux/arm64", o.Platform)
		}
		osName, arch = parts[0], parts[1]
		if len(parts) == 3 {
			variant = parts[2]
		}
	}
	return osName, arch, variant, nil
}

// CheckPlatform validates the platform options without pulling.
func (o Options) CheckPlatform() error {
	_, _, _, err := o.platform()
	return err
}

// Matches reports whether a stored image is for the platform asked for,
// this machine's when none was: an image pulled earlier for another
// platform is not what a plain run wants.
func (o Options) Matches(cfg *imgspecv1.Image) bool {
	osName, arch, variant, err := o.platform()
	if err != nil {
		return false
	}
	if osName == "" {
		osName = runtime.GOOS
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	return cfg.OS == osName && cfg.Architecture == arch && (variant == "" || cfg.Variant == variant)
}

// ErrNotFound says that no candidate of a reference exists.
var ErrNotFound = errors.New("image not found")

// MalformedError says what is wrong with a reference the user typed.
type MalformedError struct {
	Ref string
	Err error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("invalid image reference %q: %v", e.Ref, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// SystemContext is containers/image's view of o: the files it reads
// (auth, certificates, registries.conf, policy) and the platform asked for.
func (o Options) SystemContext() *types.SystemContext {
	sys := &types.SystemContext{
		AuthFilePath:                o.AuthFile,
		DockerCertPath:              o.CertDir,
		SystemRegistriesConfPath:    o.RegistriesConf,
		SystemRegistriesConfDirPath: o.RegistriesConfDir,
		SignaturePolicyPath:         o.SignaturePolicy,
	}
	sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice, _ = o.platform()
	if o.TLSVerify != nil {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*o.TLSVerify)
	}
	if c := o.Credentials; c != nil {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: c.Username, Password: c.Password, IdentityToken: c.IdentityToken}
	}
	return sys
}

// Credentials are a registry login given with a request (the Engine
// API's X-Registry-Auth) rather than read from the auth file.
type Credentials struct {
	Username, Password, IdentityToken string
}

// transportPrefixes are the sources lodger accepts besides plain names.
var transportPrefixes = []string{"docker://", "oci:", "oci-archive:", "docker-archive:", "containers-storage:"}

// HasTransport reports whether ref names its transport explicitly.
func HasTransport(ref string) bool {
	for _, p := range transportPrefixes {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// Lookup finds an image already in store by ID, ID prefix or name, trying
// the names a short name may stand for. It returns ErrNotFound when none
// is present.
func Lookup(store cstorage.Store, ref string, o Options) (*cstorage.Image, error) {
	if HasTransport(ref) {
		return nil, ErrNotFound
	}
	if img, err := store.Image(ref); err == nil {
		return img, nil
	}
	// Docker's clients name images by sha256:ID as well (docker commit
	// prints it, compose passes it on).
	if id, ok := strings.CutPrefix(ref, "sha256:"); ok && id != "" {
		if img, err := store.Image(id); err == nil {
			return img, nil
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, &MalformedError{Ref: ref, Err: err}
	}
	candidates := []reference.Named{reference.TagNameOnly(named)}
	if shortnames.IsShortName(ref) {
		if local, err := shortnames.ResolveLocally(o.SystemContext(), ref); err == nil {
			candidates = append(local, candidates...)
		}
	}
	for _, c := range candidates {
		if img, err := store.Image(c.String()); err == nil {
			return img, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
}

// Config returns the OCI configuration of a stored image.
func Config(ctx context.Context, store cstorage.Store, id string) (*imgspecv1.Image, error) {
	ref, err := storageTransport.Transport.NewStoreReference(store, nil, id)
	if err != nil {
		return nil, err
	}
	img, err := ref.NewImage(ctx, &types.SystemContext{})
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", shortID(id), err)
	}
	defer img.Close()
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("read configuration of image %s: %w", shortID(id), err)
	}
	return cfg, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// The unpack budget's errors and default, where the callers of Commit,
// import and pull look for them.
var ErrTooLarge = unpack.ErrTooLarge

// BudgetError says that an image unpacks to more than the budget allows
// (Options.MaxUnpackedSize, lodger.toml's [pull] max_unpacked_size). It
// is ErrTooLarge too.
type BudgetError = unpack.BudgetError

// DefaultMaxUnpackedSize is the budget when Options.MaxUnpackedSize is
// zero (unpack.DefaultMaxUnpackedSize says why its size).
const DefaultMaxUnpackedSize = unpack.DefaultMaxUnpackedSize

// ErrFormat says that a format cannot hold what was asked of it.
var ErrFormat = errors.New("unsupported archive format")
