package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"

	dockercontainer "github.com/moby/moby/api/types/container"

	"github.com/lodger-containers/lodger/container"
)

// archivePathError makes a missing path Docker's 404, in its words.
func archivePathError(r *http.Request, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("Could not find the file %s in container %s", r.URL.Query().Get("path"), r.PathValue("id"))
	}
	return err
}

// setPathStat sets Docker's X-Docker-Container-Path-Stat header:
// base64 JSON of the path's stat.
func (s *Server) setPathStat(w http.ResponseWriter, r *http.Request) (bool, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return false, badRequest("path is required")
	}
	info, err := container.StatPath(s.o.Store, r.PathValue("id"), p)
	if err != nil {
		return false, archivePathError(r, err)
	}
	b, _ := json.Marshal(dockercontainer.PathStat{Name: info.Name, Size: info.Size, Mode: info.Mode, Mtime: info.Mtime, LinkTarget: info.LinkTarget})
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
	return true, nil
}

// statArchive is HEAD /containers/{id}/archive?path=.
func (s *Server) statArchive(w http.ResponseWriter, r *http.Request) {
	if _, err := s.setPathStat(w, r); err != nil {
		w.WriteHeader(statusOf(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getArchive is GET /containers/{id}/archive?path=: the path as a tar,
// read as lodger cp reads it.
func (s *Server) getArchive(w http.ResponseWriter, r *http.Request) {
	if _, err := s.setPathStat(w, r); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	dw := &deferredWriter{w: w}
	if err := container.ArchiveFromContainer(s.o.Store, r.PathValue("id"), r.URL.Query().Get("path"), dw, container.CopyOptions{}); err != nil && !dw.started {
		writeError(w, archivePathError(r, err))
		return
	}
	if !dw.started {
		w.WriteHeader(http.StatusOK)
	}
}

// putArchive is PUT /containers/{id}/archive?path=: the tar body unpacked
// into the directory path, as lodger cp - CONTAINER:DIR does.
func (s *Server) putArchive(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		writeError(w, badRequest("path is required"))
		return
	}
	if err := container.ExtractToContainer(s.o.Store, r.PathValue("id"), r.Body, p, container.CopyOptions{Archive: boolParam(r, "copyUIDGID")}); err != nil {
		writeError(w, archivePathError(r, err))
		return
	}
	w.WriteHeader(http.StatusOK)
}
