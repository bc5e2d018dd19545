package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"go.podman.io/image/v5/docker/reference"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/transfer"
)

// imageRoute serves /images/{name...}: an image name has slashes and a
// colon, so the operation is the path's last element, as Docker routes
// it.
func (s *Server) imageRoute(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	name, op := rest, ""
	if i := strings.LastIndex(rest, "/"); i > 0 {
		switch rest[i+1:] {
		case "json", "history", "push", "tag", "get":
			name, op = rest[:i], rest[i+1:]
		}
	}
	switch {
	case r.Method == http.MethodGet && op == "json":
		s.inspectImage(w, r, name)
	case r.Method == http.MethodGet && op == "history":
		s.imageHistory(w, r, name)
	case r.Method == http.MethodGet && op == "get":
		s.saveImages(w, r, []string{name})
	case r.Method == http.MethodPost && op == "push":
		s.pushImage(w, r, name)
	case r.Method == http.MethodPost && op == "tag":
		s.tagImage(w, r, name)
	case r.Method == http.MethodDelete && op == "":
		s.removeImage(w, r, name)
	default:
		writeError(w, notFound("page not found: %s %s", r.Method, r.URL.Path))
	}
}

// imageSummaries lists the images in Docker's schema; f, when not nil,
// selects them.
func (s *Server) imageSummaries(ctx context.Context, f *image.ImageFilter, all bool) ([]imagetypes.Summary, error) {
	imgs, err := image.List(ctx, s.o.Store, f != nil && f.HasLabels())
	if err != nil {
		return nil, err
	}
	out := []imagetypes.Summary{}
	for _, img := range imgs {
		// Intermediate images (no name, others built on them) are
		// listed with all=1 only, as by Docker and `lodger images`.
		if !all && img.Intermediate() {
			continue
		}
		names := img.Names
		if f != nil {
			var ok bool
			if names, ok = f.Match(img); !ok {
				continue
			}
		}
		sum := imagetypes.Summary{ID: "sha256:" + img.ID, RepoTags: []string{}, RepoDigests: []string{}, Created: img.Created.Unix(),
			Size: img.Size, SharedSize: -1, Labels: img.Labels, Containers: int64(img.Containers)}
		if sum.Labels == nil {
			sum.Labels = map[string]string{}
		}
		for _, n := range names {
			sum.RepoTags = append(sum.RepoTags, familiar(n))
			if img.Digest != "" {
				if named, err := reference.ParseNormalizedNamed(n); err == nil {
					sum.RepoDigests = append(sum.RepoDigests, reference.FamiliarName(named)+"@"+img.Digest)
				}
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

// listImages is GET /images/json.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := image.ParseImageFilters(flattenFilters(filters))
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	if err := f.Resolve(s.o.Store); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.imageSummaries(r.Context(), &f, boolParam(r, "all"))
	if err != nil {
		writeError(w, err)
		return
	}
	if boolParam(r, "shared-size") {
		u, err := image.DiskUsage(s.o.Store)
		if err != nil {
			writeError(w, err)
			return
		}
		for i := range out {
			if iu, ok := u.Images[strings.TrimPrefix(out[i].ID, "sha256:")]; ok {
				out[i].SharedSize = iu.Shared
			}
		}
	}
	writeJSON(w, http.StatusOK, withVirtualSize(r, out))
}

// summaryV1 is an image summary with VirtualSize, which API 1.44 dropped
// and clients before it still read: Docker 20.10's system df takes it as
// what an in-use image holds, and would count it as 0.
type summaryV1 struct {
	imagetypes.Summary
	VirtualSize int64
}

// withVirtualSize is sums as a client of r's API version reads them.
func withVirtualSize(r *http.Request, sums []imagetypes.Summary) any {
	if !versionBefore(r, "1.44") {
		return sums
	}
	out := make([]summaryV1, len(sums))
	for i, sum := range sums {
		out[i] = summaryV1{Summary: sum, VirtualSize: sum.Size}
	}
	return out
}

func (s *Server) inspectImage(w http.ResponseWriter, r *http.Request, name string) {
	rep, err := image.InspectImage(r.Context(), s.o.Store, name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request, name string) {
	hist, err := image.History(r.Context(), s.o.Store, name)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []imagetypes.HistoryResponseItem{}
	// Docker lists the newest step first.
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		id := h.ID
		if id != "<missing>" && !strings.HasPrefix(id, "sha256:") {
			id = "sha256:" + id
		}
		item := imagetypes.HistoryResponseItem{ID: id, Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment, Tags: []string{}}
		out = append(out, item)
	}
	if len(out) > 0 {
		if img, err := image.Lookup(s.o.Store, name, image.Options{}); err == nil {
			out[0].Tags = append(out[0].Tags, img.Names...)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) tagImage(w http.ResponseWriter, r *http.Request, name string) {
	repo, tag := r.URL.Query().Get("repo"), r.URL.Query().Get("tag")
	if repo == "" {
		writeError(w, badRequest("tag: repo is required"))
		return
	}
	target := repo
	if tag != "" {
		target += ":" + tag
	}
	img, err := image.Lookup(s.o.Store, name, image.Options{})
	if err != nil {
		writeError(w, err)
		return
	}
	added, err := image.Tag(s.o.Store, name, target)
	if err != nil {
		var me *image.MalformedError
		if errors.As(err, &me) {
			err = badRequest("%v", err)
		}
		writeError(w, err)
		return
	}
	for _, n := range added {
		container.EmitImage("tag", img.ID, n)
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request, name string) {
	rep, err := container.RemoveImage(s.o.Store, name, boolParam(r, "force"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := []imagetypes.DeleteResponse{}
	if rep.Untagged != "" {
		out = append(out, imagetypes.DeleteResponse{Untagged: familiar(rep.Untagged)})
	} else {
		for _, n := range rep.Names {
			out = append(out, imagetypes.DeleteResponse{Untagged: familiar(n)})
		}
		out = append(out, imagetypes.DeleteResponse{Deleted: "sha256:" + rep.Deleted})
	}
	writeJSON(w, http.StatusOK, out)
}

// pullImage is POST /images/create?fromImage=&tag=&platform=: the pull
// streamed as Docker's JSON progress; a failure after the status line is
// the stream's last message, as Docker's.
func (s *Server) pullImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		writeError(w, notImplemented("importing with fromSrc is not implemented by lodger's API: use lodger import"))
		return
	}
	ref := q.Get("fromImage")
	if ref == "" {
		writeError(w, badRequest("fromImage is required"))
		return
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		writeError(w, badRequest("invalid reference format: %s: %v", ref, err))
		return
	}
	o := s.o.Pull
	o.Platform = q.Get("platform")
	creds, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	o.Credentials = creds
	if err := o.CheckPlatform(); err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	named, _ := reference.ParseNormalizedNamed(ref)
	tagged := reference.TagNameOnly(named)
	tagID := "latest"
	if t, ok := tagged.(reference.Tagged); ok {
		tagID = t.Tag()
	}
	bs := newBlobStream(sw, false)
	bs.message(jsonstream.Message{Status: "Pulling from " + reference.Path(named), ID: tagID})
	o.Progress = nil
	o.Blobs = bs.blob
	id, err := transfer.Pull(r.Context(), s.o.Store, ref, o)
	if err != nil {
		bs.fail(err)
		return
	}
	container.EmitPull(ref, id)
	// Docker's Digest line is the manifest's digest, which a client may
	// pin (NAME@sha256:...); the image ID is the configuration's.
	if img, err := s.o.Store.Image(id); err == nil && img.Digest != "" {
		bs.status("Digest: %s", img.Digest)
	} else {
		bs.status("Digest: sha256:%s", id)
	}
	bs.status("Status: Downloaded newer image for %s", reference.FamiliarString(tagged))
}

// pushImage is POST /images/{name}/push?tag=.
func (s *Server) pushImage(w http.ResponseWriter, r *http.Request, name string) {
	ref := name
	if tag := r.URL.Query().Get("tag"); tag != "" {
		ref += ":" + tag
	}
	if _, err := image.Lookup(s.o.Store, ref, image.Options{}); err != nil {
		writeError(w, err)
		return
	}
	o := s.o.Pull
	creds, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	o.Credentials = creds
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	bs := newBlobStream(sw, true)
	// Docker names the repository here, without the tag.
	repo := name
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		repo = named.Name()
	}
	bs.status("The push refers to repository [%s]", repo)
	o.Progress = nil
	o.Blobs = bs.blob
	d, err := transfer.Push(r.Context(), s.o.Store, ref, "", o)
	if err != nil {
		bs.fail(err)
		return
	}
	tag := "latest"
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if t, ok := reference.TagNameOnly(named).(reference.Tagged); ok {
			tag = t.Tag()
		}
	}
	bs.status("%s: digest: %s", tag, d)
	aux := json.RawMessage(fmt.Sprintf(`{"Tag":%q,"Digest":%q,"Size":0}`, tag, d.String()))
	bs.message(jsonstream.Message{Aux: &aux})
}

// pruneImages is POST /images/prune?filters={"dangling":["false"]}.
func (s *Server) pruneImages(w http.ResponseWriter, r *http.Request) {
	f, rest, err := pruneFilters(r, "dangling", "until", "label", "label!")
	if err != nil {
		writeError(w, err)
		return
	}
	all := false
	for _, v := range rest["dangling"] {
		all = all || v == "false" || v == "0"
	}
	rep, err := image.Prune(context.WithoutCancel(r.Context()), s.o.Store, image.PruneOptions{All: all, Filter: f})
	if err != nil {
		writeError(w, err)
		return
	}
	out := imagetypes.PruneReport{ImagesDeleted: []imagetypes.DeleteResponse{}, SpaceReclaimed: uint64(max(rep.Reclaimed, 0))}
	for _, line := range rep.Removed {
		switch {
		case strings.HasPrefix(line, "untagged: "):
			out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Untagged: familiar(strings.TrimPrefix(line, "untagged: "))})
		case strings.HasPrefix(line, "deleted: "):
			out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Deleted: strings.TrimPrefix(line, "deleted: ")})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// getImages is GET /images/get?names=...: a docker-archive of them.
func (s *Server) getImages(w http.ResponseWriter, r *http.Request) {
	s.saveImages(w, r, r.URL.Query()["names"])
}

func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, refs []string) {
	if len(refs) == 0 {
		writeError(w, badRequest("names: at least one image is required"))
		return
	}
	for _, ref := range refs {
		if _, err := image.Lookup(s.o.Store, ref, image.Options{}); err != nil {
			writeError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	// The archive is written to a file first (its writer seeks): an error
	// before its first byte still gets a status.
	pw := &deferredWriter{w: w}
	if err := transfer.SaveTo(r.Context(), s.o.Store, refs, pw, transfer.FormatDockerArchive, s.o.Pull); err != nil && !pw.started {
		writeError(w, err)
	}
}

type deferredWriter struct {
	w       http.ResponseWriter
	started bool
}

func (d *deferredWriter) Write(b []byte) (int, error) {
	if !d.started {
		d.started = true
		d.w.WriteHeader(http.StatusOK)
	}
	return d.w.Write(b)
}

// loadImages is POST /images/load: a docker-archive or oci-archive in the
// body, loaded as `lodger load` does.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) {
	loaded, err := transfer.LoadFrom(r.Context(), s.o.Store, bufio.NewReader(r.Body), s.o.Pull)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	for _, img := range loaded {
		container.EmitImage("load", img.ID, "")
		if len(img.Names) == 0 {
			_ = jsonLine(w, jsonstream.Message{Stream: "Loaded image ID: sha256:" + img.ID + "\n"})
		}
		for _, n := range img.Names {
			_ = jsonLine(w, jsonstream.Message{Stream: "Loaded image: " + n + "\n"})
		}
	}
}

// searchImages is GET /images/search?term=&limit=.
func (s *Server) searchImages(w http.ResponseWriter, r *http.Request) {
	term := r.URL.Query().Get("term")
	if term == "" {
		writeError(w, badRequest("term is required"))
		return
	}
	limit, err := intParam(r, "limit", 25)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := transfer.Search(r.Context(), term, limit, s.o.Pull)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []registry.SearchResult{}
	for _, x := range res {
		out = append(out, registry.SearchResult{Name: x.Name, Description: x.Description, StarCount: x.Stars, IsOfficial: x.Official})
	}
	writeJSON(w, http.StatusOK, out)
}

// familiar is a stored image name as Docker's daemon shows it: without
// docker.io/ and library/ (busybox:latest), as inspect has it too.
func familiar(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarString(named)
}
