// Package image is the image lifecycle, on go.podman.io/image/v5 and
// go.podman.io/storage: resolving
// references (short names through registries.conf), pulling into the local
// store from registries (streaming layers, stream.go) and archives, finding
// images already present, and the way out again: push, save and load
// (archive.go), history, and registry credentials (auth.go). Images are
// also made locally from one new layer (commit.go: commit and import, with
// Dockerfile --change instructions, change.go), listed and filtered
// (list.go), and pruned and measured (prune.go).
//
// It reads the same registries.conf, policy.json and auth.json as podman,
// skopeo and buildah. It prints nothing unless Options.Progress is set.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	storageTransport "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/configfile"
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

func (o Options) maxUnpackedSize() int64 {
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

func (o Options) systemContext() *types.SystemContext {
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

// Pull copies ref into store and returns the image ID. A plain name goes
// through registries.conf (short names, search registries, mirrors); other
// sources are named with their transport.
func Pull(ctx context.Context, store cstorage.Store, ref string, o Options) (string, error) {
	if err := o.CheckPlatform(); err != nil {
		return "", err
	}
	sys := o.systemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer func() { _ = policy.Destroy() }()

	if HasTransport(ref) && !strings.HasPrefix(ref, "docker://") {
		src, err := parseImageName(ref)
		if err != nil {
			return "", &MalformedError{Ref: ref, Err: err}
		}
		return copyArchive(ctx, policy, store, src, o, sys)
	}

	name := strings.TrimPrefix(ref, "docker://")
	resolved, err := shortnames.Resolve(sys, name)
	if err != nil {
		return "", &MalformedError{Ref: ref, Err: err}
	}
	var errs []error
	var tried []string
	for _, c := range resolved.PullCandidates {
		src, err := parseImageName("docker://" + c.Value.String())
		if err != nil {
			return "", &MalformedError{Ref: ref, Err: err}
		}
		// Fetch the manifest by the digest the tag resolved to: what is
		// served is then checked against it, and a tag moved meanwhile
		// cannot mix two images.
		streamSrc := src
		want := tagDigest(ctx, sys, src, c.Value)
		if want != "" {
			if byDigest, err := reference.WithDigest(reference.TrimNamed(c.Value), want); err == nil {
				if r, err := docker.NewReference(byDigest); err == nil {
					streamSrc = r
				}
			}
		}
		id, err := pullStreaming(ctx, policy, store, streamSrc, want, reference.TagNameOnly(c.Value), o, sys)
		if errors.Is(err, errNoStream) {
			id, err = copyInto(ctx, policy, store, src, c.Value, o, sys)
		}
		if err == nil {
			_ = c.Record()
			return id, nil
		}
		tried = append(tried, c.Value.String())
		errs = append(errs, fmt.Errorf("%s: %w", c.Value.String(), err))
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("pull %s: %w: no registry to try; add unqualified-search-registries to registries.conf or use a full name", ref, ErrNotFound)
	}
	return "", &PullError{Ref: ref, Tried: tried, Errs: errs}
}

// tagDigest asks the registry, with a HEAD request, for the digest of the
// manifest a tag names (its Docker-Content-Digest), so that the manifest
// then served can be checked against it: containers/image reads a tag's
// manifest without any check. It returns "" when the reference is by
// digest (checked anyway), when the registry has mirrors (a mirror may
// lag its registry, and the HEAD would go to the registry itself), when
// it is blocked (the pull will be refused without contacting it), or when
// the registry does not answer the HEAD with a digest; the pull then goes
// on unchecked, as podman's does, and fails there if the registry is down.
func tagDigest(ctx context.Context, sys *types.SystemContext, src types.ImageReference, named reference.Named) digest.Digest {
	if _, ok := named.(reference.Digested); ok {
		return ""
	}
	reg, err := sysregistriesv2.FindRegistry(sys, named.Name())
	if err != nil || reg != nil && (reg.Blocked || len(reg.Mirrors) > 0) {
		return ""
	}
	d, err := docker.GetDigest(ctx, sys, src)
	if err != nil {
		return ""
	}
	return d
}

// PullError carries what every candidate registry answered.
type PullError struct {
	Ref   string
	Tried []string
	Errs  []error
}

func (e *PullError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pull %s: tried %s", e.Ref, strings.Join(e.Tried, ", "))
	for _, err := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *PullError) Unwrap() []error { return e.Errs }

func copyInto(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, name reference.Named, o Options, sys *types.SystemContext) (string, error) {
	if name != nil {
		name = reference.TagNameOnly(name)
	}
	// Unnamed in the budget's errors: Pull's error names the candidate.
	man, err := copyMetered(ctx, policy, store, src, name, "", "", o, sys)
	if err != nil {
		return "", err
	}
	if name != nil {
		dest, err := storageTransport.Transport.NewStoreReference(store, name, "")
		if err != nil {
			return "", err
		}
		img, err := storageTransport.Transport.GetStoreImage(store, dest)
		if err != nil {
			return "", fmt.Errorf("find pulled image: %w", err)
		}
		return img.ID, nil
	}
	// An unnamed source (an archive without a reference) is stored under
	// its config digest, which is what storage uses as the image ID.
	m, err := manifest.FromBlob(man, manifest.GuessMIMEType(man))
	if err != nil {
		return "", fmt.Errorf("parse pulled manifest: %w", err)
	}
	return m.ConfigInfo().Digest.Encoded(), nil
}

// copyArchive copies from a local transport. The image is stored under its
// config digest (the ID storage would give it) and named after the
// reference inside the source when it has one: docker-archive keeps full
// names, OCI layouts and archives usually carry a short ref such as
// "busybox:latest", which becomes localhost/busybox:latest as in podman.
func copyArchive(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, o Options, sys *types.SystemContext) (string, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", transports.ImageName(src), err)
	}
	id := img.ConfigInfo().Digest.Encoded()
	img.Close()
	name := src.DockerReference()
	if name == nil {
		name = archiveRefName(src)
	}
	if name != nil {
		name = reference.TagNameOnly(name)
	}
	if _, err := copyMetered(ctx, policy, store, src, name, id, transports.ImageName(src), o, sys); err != nil {
		return "", err
	}
	return id, nil
}

// archiveRefName reads the ":REF" an oci: or oci-archive: reference ends
// with, as a name under localhost/ when it is not fully qualified.
func archiveRefName(src types.ImageReference) reference.Named {
	s := src.StringWithinTransport()
	i := strings.LastIndex(s, ":")
	if i < 0 || (src.Transport().Name() != "oci" && src.Transport().Name() != "oci-archive") {
		return nil
	}
	ref := s[i+1:]
	if j := strings.LastIndex(s[:i], ":"); j >= 0 && !strings.Contains(s[j+1:i], "/") {
		// "FILE:name:tag": the tag's colon is the last one.
		ref = s[j+1:]
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil
	}
	if !strings.Contains(ref, "/") || !strings.ContainsAny(strings.SplitN(ref, "/", 2)[0], ".:") && strings.SplitN(ref, "/", 2)[0] != "localhost" {
		named, err = reference.ParseNormalizedNamed("localhost/" + ref)
		if err != nil {
			return nil
		}
	}
	return named
}

// policyContext reads policy.json as podman does; with no policy file at
// all, lodger accepts any image, as a fresh podman install does.
func policyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	p, err := signature.DefaultPolicy(sys)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, configfile.ErrConfigFileNotFound) {
		p = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
	} else if err != nil {
		return nil, fmt.Errorf("read signature policy: %w", err)
	}
	return signature.NewPolicyContext(p)
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
		if local, err := shortnames.ResolveLocally(o.systemContext(), ref); err == nil {
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
