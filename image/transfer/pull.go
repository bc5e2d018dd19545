package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/configfile"

	"github.com/lodger-containers/lodger/image"
)

// Pull copies ref into store and returns the image ID. A plain name goes
// through registries.conf (short names, search registries, mirrors); other
// sources are named with their transport.
func Pull(ctx context.Context, store cstorage.Store, ref string, o image.Options) (string, error) {
	if err := o.CheckPlatform(); err != nil {
		return "", err
	}
	sys := o.SystemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return "", err
	}
	defer func() { _ = policy.Destroy() }()

	if image.HasTransport(ref) && !strings.HasPrefix(ref, "docker://") {
		src, err := parseImageName(ref)
		if err != nil {
			return "", &image.MalformedError{Ref: ref, Err: err}
		}
		return copyArchive(ctx, policy, store, src, o, sys)
	}

	name := strings.TrimPrefix(ref, "docker://")
	resolved, err := shortnames.Resolve(sys, name)
	if err != nil {
		return "", &image.MalformedError{Ref: ref, Err: err}
	}
	var errs []error
	var tried []string
	for _, c := range resolved.PullCandidates {
		src, err := parseImageName("docker://" + c.Value.String())
		if err != nil {
			return "", &image.MalformedError{Ref: ref, Err: err}
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
		return "", fmt.Errorf("pull %s: %w: no registry to try; add unqualified-search-registries to registries.conf or use a full name", ref, image.ErrNotFound)
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

func copyInto(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, name reference.Named, o image.Options, sys *types.SystemContext) (string, error) {
	if name != nil {
		name = reference.TagNameOnly(name)
	}
	// Unnamed in the budget's errors: Pull's error names the candidate.
	return copyMetered(ctx, policy, store, src, name, "", "", o, sys)
}

// copyArchive copies from a local transport. The image is stored under its
// config digest (the ID storage would give it) and named after the
// reference inside the source when it has one: docker-archive keeps full
// names, OCI layouts and archives usually carry a short ref such as
// "busybox:latest", which becomes localhost/busybox:latest as in podman.
func copyArchive(ctx context.Context, policy *signature.PolicyContext, store cstorage.Store, src types.ImageReference, o image.Options, sys *types.SystemContext) (string, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", transports.ImageName(src), err)
	}
	id := configID(img)
	img.Close()
	name := src.DockerReference()
	if name == nil {
		name = archiveRefName(src)
	}
	if name != nil {
		name = reference.TagNameOnly(name)
	}
	// What storage stored: id, or the one it made up for a named schema 1
	// image, which has no config digest.
	return copyMetered(ctx, policy, store, src, name, id, transports.ImageName(src), o, sys)
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

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
