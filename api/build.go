package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	dockerbuild "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/lodger-containers/lodger/build"
	"github.com/lodger-containers/lodger/container"
)

// buildImage is POST /build, the classic builder's protocol (what
// clients speak with DOCKER_BUILDKIT=0): the context as a tar body, the
// options as parameters, the output as JSON stream messages, the image
// ID in an aux message. The build is `lodger build`'s: build.Build.
func (s *Server) buildImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("version") == "2" {
		writeError(w, notImplemented("BuildKit builds are not implemented by lodger: use the classic builder (DOCKER_BUILDKIT=0)"))
		return
	}
	if remote := q.Get("remote"); remote != "" {
		writeError(w, notImplemented("a remote build context (%s) is not implemented by lodger: send the context as the body", remote))
		return
	}
	o := build.Options{ContextArchive: r.Body, Dockerfile: q.Get("dockerfile"), Tags: q["t"], Target: q.Get("target"),
		NoCache: boolParam(r, "nocache"), Storage: s.o.StoreOptions, Pull: s.o.Pull}
	if boolParam(r, "pull") {
		o.PullPolicy = build.PullAlways
	}
	switch nm := q.Get("networkmode"); nm {
	case "", "default", "bridge":
	case "host", "none":
		o.Network = nm
	default:
		writeError(w, badRequest("networkmode %q: use default, bridge, host or none", nm))
		return
	}
	if v := q.Get("buildargs"); v != "" {
		var args map[string]*string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			writeError(w, badRequest("buildargs: %v", err))
			return
		}
		o.BuildArgs = map[string]string{}
		for k, val := range args {
			if val != nil {
				o.BuildArgs[k] = *val
			}
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.Labels); err != nil {
			writeError(w, badRequest("labels: %v", err))
			return
		}
	}
	creds, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	o.Pull.Credentials = creds
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	out := &streamLines{w: sw}
	if !boolParam(r, "q") {
		o.Output = out
	}
	rep, err := build.Build(r.Context(), s.o.Store, o)
	out.flush()
	if err != nil {
		msg := err.Error()
		var re *build.RunError
		if errors.As(err, &re) {
			_ = jsonLine(sw, jsonstream.Message{Error: &jsonstream.Error{Code: re.Code, Message: msg}})
			return
		}
		_ = jsonLine(sw, jsonstream.Message{Error: &jsonstream.Error{Message: msg}})
		return
	}
	aux := json.RawMessage(`{"ID":"` + rep.ImageID + `"}`)
	_ = jsonLine(sw, jsonstream.Message{Aux: &aux})
	id := strings.TrimPrefix(rep.ImageID, "sha256:")
	if boolParam(r, "q") {
		_ = jsonLine(sw, jsonstream.Message{Stream: rep.ImageID + "\n"})
	}
	for _, t := range rep.Tags {
		container.EmitImage("tag", id, t)
	}
}

// streamLines sends what it is given as JSON stream messages, a line at a
// time, as Docker's builder does.
type streamLines struct {
	w   *streamWriter
	buf []byte
}

func (s *streamLines) Write(b []byte) (int, error) {
	s.buf = append(s.buf, b...)
	for {
		i := strings.IndexByte(string(s.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		_ = jsonLine(s.w, jsonstream.Message{Stream: string(s.buf[:i+1])})
		s.buf = s.buf[i+1:]
	}
}

func (s *streamLines) flush() {
	if len(s.buf) > 0 {
		_ = jsonLine(s.w, jsonstream.Message{Stream: string(s.buf)})
		s.buf = nil
	}
}

// pruneBuildCache is POST /build/prune?all=&filters=: builder prune's,
// and the last of docker system prune's calls, which passes its own
// filters on (until, label, label!). keep-storage and the space limits
// of newer APIs are refused rather than ignored: lodger does not size
// what it keeps.
func (s *Server) pruneBuildCache(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range []string{"keep-storage", "reserved-space", "max-used-space", "min-free-space"} {
		if v := q.Get(k); v != "" && v != "0" {
			writeError(w, notImplemented("pruning the build cache down to a size (%s) is not implemented by lodger: prune it all, or by until", k))
			return
		}
	}
	f, _, err := pruneFilters(r, "until", "label", "label!")
	if err != nil {
		writeError(w, err)
		return
	}
	rep, err := build.Prune(s.o.Store, build.PruneOptions{All: boolParam(r, "all"), Filter: f})
	if err != nil {
		writeError(w, err)
		return
	}
	out := dockerbuild.CachePruneReport{CachesDeleted: rep.Removed, SpaceReclaimed: uint64(max(rep.Reclaimed, 0))}
	if out.CachesDeleted == nil {
		out.CachesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}
