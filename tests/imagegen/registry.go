package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// registry pushes layout content to a Docker registry v2 over plain HTTP
// with the raw distribution API. Going through containers/image's copy
// would need many more modules in go.mod, and this way the registry gets
// the very bytes written to the layout: nothing can recompress a zstd layer
// or rewrite a manifest, so the digests printed by a build are the ones
// that get pulled.
type registry struct {
	host   string
	client *http.Client
}

func newRegistry(host string) *registry {
	return &registry{host: host, client: &http.Client{}}
}

var (
	repoPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagPattern  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// splitRepoTag splits "repo/name:tag"; the tag defaults to latest.
func splitRepoTag(ref string) (repo, tag string, err error) {
	repo, tag = ref, "latest"
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	if !repoPattern.MatchString(repo) {
		return "", "", fmt.Errorf("invalid repository name %q", repo)
	}
	if !tagPattern.MatchString(tag) {
		return "", "", fmt.Errorf("invalid tag %q", tag)
	}
	return repo, tag, nil
}

// splitPushRef splits "host[:port]/repo/name[:tag]".
func splitPushRef(ref string) (host, repoTag string, err error) {
	host, repoTag, ok := strings.Cut(ref, "/")
	if !ok || host == "" {
		return "", "", fmt.Errorf("reference %q has no registry host", ref)
	}
	if _, _, err := splitRepoTag(repoTag); err != nil {
		return "", "", fmt.Errorf("reference %q: %w", ref, err)
	}
	return host, repoTag, nil
}

// pushLayout pushes every image tagged in l, returning the full references.
func (r *registry) pushLayout(ctx context.Context, l *layout) ([]string, error) {
	var pushed []string
	for _, d := range l.refs {
		ref := d.Annotations[annotationRefName]
		repo, tag, err := splitRepoTag(ref)
		if err != nil {
			return pushed, err
		}
		full := r.host + "/" + repo + ":" + tag
		if err := r.pushManifest(ctx, l, repo, tag, d); err != nil {
			return pushed, fmt.Errorf("push %s: %w", full, err)
		}
		pushed = append(pushed, full)
	}
	return pushed, nil
}

// pushManifest uploads what d references, then d itself under ref (a tag,
// or the digest for the members of an index).
func (r *registry) pushManifest(ctx context.Context, l *layout, repo, ref string, d descriptor) error {
	data, err := l.readBlob(d.Digest)
	if err != nil {
		return err
	}
	switch d.MediaType {
	case mediaTypeIndex:
		var idx index
		if err := json.Unmarshal(data, &idx); err != nil {
			return fmt.Errorf("parse index %s: %w", d.Digest, err)
		}
		for _, m := range idx.Manifests {
			if err := r.pushManifest(ctx, l, repo, m.Digest, m); err != nil {
				return err
			}
		}
	case mediaTypeManifest:
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("parse manifest %s: %w", d.Digest, err)
		}
		for _, b := range append([]descriptor{m.Config}, m.Layers...) {
			if err := r.pushBlob(ctx, l, repo, b); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected media type %s for %s", d.MediaType, d.Digest)
	}

	u := r.url("/v2/" + repo + "/manifests/" + ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", d.MediaType)
	resp, err := r.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	// The registry digests the bytes it stored; a mismatch would mean the
	// manifest was rewritten on the way.
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.Digest {
		return fmt.Errorf("put manifest %s: registry stored it as %s", d.Digest, got)
	}
	return nil
}

// pushBlob uploads a blob in one piece unless the repository has it already.
func (r *registry) pushBlob(ctx context.Context, l *layout, repo string, d descriptor) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url("/v2/"+repo+"/blobs/"+d.Digest), nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}

	req, err = http.NewRequestWithContext(ctx, http.MethodPost, r.url("/v2/"+repo+"/blobs/uploads/"), nil)
	if err != nil {
		return err
	}
	resp, err = r.do(req, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc, err := url.Parse(r.url("/"))
	if err == nil {
		loc, err = loc.Parse(resp.Header.Get("Location"))
	}
	if err != nil {
		return fmt.Errorf("upload location: %w", err)
	}
	q := loc.Query()
	q.Set("digest", d.Digest)
	loc.RawQuery = q.Encode()

	f, err := os.Open(l.blobPath(d.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = d.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	_, err = r.do(req, http.StatusCreated)
	return err
}

func (r *registry) url(path string) string {
	return "http://" + r.host + path
}

// do sends req and turns any status but want into an error carrying the
// registry's error codes.
func (r *registry) do(req *http.Request, want int) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == want {
		return resp, nil
	}
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		var parts []string
		for _, x := range e.Errors {
			parts = append(parts, x.Code+": "+x.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Redacted(), resp.Status, msg)
}
