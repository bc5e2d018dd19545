package api

import (
	"net/http"

	dockervolume "github.com/moby/moby/api/types/volume"

	"github.com/lodger-containers/lodger/container"
)

// listVolumes is GET /volumes.
func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	vs := container.VolumeStore(s.o.Store)
	list, err := vs.List()
	if err != nil {
		writeError(w, err)
		return
	}
	resp := dockervolume.ListResponse{Volumes: []dockervolume.Volume{}, Warnings: []string{}}
	for _, v := range list {
		rep := v.Report()
		if !matchVolume(rep, filters) {
			continue
		}
		resp.Volumes = append(resp.Volumes, rep)
	}
	writeJSON(w, http.StatusOK, resp)
}

func matchVolume(v dockervolume.Volume, f map[string][]string) bool {
	for k, vs := range f {
		ok := false
		for _, want := range vs {
			switch k {
			case "name":
				ok = ok || containsFold(v.Name, want)
			case "driver":
				ok = ok || v.Driver == want
			case "label":
				key, val, hasVal := cut(want, "=")
				got, has := v.Labels[key]
				ok = ok || has && (!hasVal || got == val)
			case "dangling":
				// Without the users at hand every volume counts as in use
				// for dangling=true: nothing is shown as removable that
				// is not.
				ok = ok || want == "false" || want == "0"
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// createVolume is POST /volumes/create.
func (s *Server) createVolume(w http.ResponseWriter, r *http.Request) {
	var req dockervolume.CreateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Driver != "" && req.Driver != "local" {
		writeError(w, badRequest("volume driver %q: lodger has the local driver only", req.Driver))
		return
	}
	v, err := container.VolumeStore(s.o.Store).Create(req.Name, req.Labels)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v.Report())
}

// inspectVolume is GET /volumes/{name}.
func (s *Server) inspectVolume(w http.ResponseWriter, r *http.Request) {
	v, err := container.VolumeStore(s.o.Store).Get(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v.Report())
}

// removeVolume is DELETE /volumes/{name}?force=.
func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request) {
	if err := container.VolumeStore(s.o.Store).Remove(r.PathValue("name"), boolParam(r, "force")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pruneVolumes is POST /volumes/prune; the filter all=true prunes named
// volumes too, as Docker 23 and later.
func (s *Server) pruneVolumes(w http.ResponseWriter, r *http.Request) {
	f, rest, err := pruneFilters(r, "label", "label!", "all")
	if err != nil {
		writeError(w, err)
		return
	}
	all := false
	for _, v := range rest["all"] {
		all = all || v == "true" || v == "1"
	}
	p, err := container.VolumeStore(s.o.Store).Prune(all, f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := dockervolume.PruneReport{VolumesDeleted: p.Names, SpaceReclaimed: uint64(max(p.Bytes, 0))}
	if out.VolumesDeleted == nil {
		out.VolumesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}
