package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/common"
	dockercontainer "github.com/moby/moby/api/types/container"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/image"
)

// commitContainer is POST /commit?container=&repo=&tag=&comment=&author=
// &pause=&changes=, with a container configuration as the body: the same
// call as `lodger commit` (container.Commit). 201 and the image's ID.
func (s *Server) commitContainer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("container")
	if ref == "" {
		writeError(w, badRequest("commit: container is required"))
		return
	}
	name := q.Get("repo")
	if tag := q.Get("tag"); tag != "" {
		if name == "" {
			writeError(w, badRequest("commit: tag %q given without repo", tag))
			return
		}
		name += ":" + tag
	}
	changes, err := image.ParseChanges(q["changes"])
	if err != nil {
		writeError(w, err)
		return
	}
	var cfg dockercontainer.Config
	if err := s.decodeBody(w, r, &cfg); err != nil {
		writeError(w, err)
		return
	}
	id, err := container.Commit(context.WithoutCancel(r.Context()), s.o.Store, ref, container.CommitOptions{
		Name:            name,
		Config:          overlayConfig(cfg),
		Changes:         changes,
		Comment:         q.Get("comment"),
		Author:          q.Get("author"),
		Pause:           boolParam(r, "pause"),
		MaxUnpackedSize: s.o.Pull.MaxUnpackedSize,
	})
	if err != nil {
		var me *image.MalformedError
		if errors.As(err, &me) {
			err = badRequest("%v", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: "sha256:" + id})
}

// overlayConfig lays the commit body's configuration over what the image
// gets from its container, as Docker merges them: what the body sets
// wins, environment variables and labels key by key, exposed ports and
// volumes added; a body entrypoint brings its own command (none if it has
// none), a body command alone keeps the entrypoint.
func overlayConfig(c dockercontainer.Config) func(*imgspecv1.ImageConfig) {
	return func(cfg *imgspecv1.ImageConfig) {
		if c.User != "" {
			cfg.User = c.User
		}
		if c.WorkingDir != "" {
			cfg.WorkingDir = c.WorkingDir
		}
		if c.StopSignal != "" {
			cfg.StopSignal = c.StopSignal
		}
		for _, kv := range c.Env {
			k, _, _ := strings.Cut(kv, "=")
			replaced := false
			for i, old := range cfg.Env {
				if ok, _, _ := strings.Cut(old, "="); ok == k {
					cfg.Env[i], replaced = kv, true
				}
			}
			if !replaced {
				cfg.Env = append(cfg.Env, kv)
			}
		}
		for k, v := range c.Labels {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[k] = v
		}
		for p := range c.ExposedPorts {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			cfg.ExposedPorts[p.String()] = struct{}{}
		}
		for v := range c.Volumes {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		}
		switch {
		case len(c.Entrypoint) > 0:
			cfg.Entrypoint, cfg.Cmd = c.Entrypoint, c.Cmd
		case len(c.Cmd) > 0:
			cfg.Cmd = c.Cmd
		}
	}
}
