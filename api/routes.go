package api

import (
	"net/http"
	"strings"
)

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// routes lists every endpoint served; what lodger cannot do answers 501
// with a message saying so, never a silent success.
func (s *Server) routes() {
	m := s.mux
	h := func(pattern string, f http.HandlerFunc) { m.HandleFunc(pattern, f) }

	h("GET /_ping", s.ping)
	h("HEAD /_ping", s.ping)
	h("GET /version", s.version)
	h("GET /info", s.info)
	h("GET /events", s.events)
	h("GET /system/df", s.diskUsage)
	h("POST /auth", s.auth)

	h("GET /containers/json", s.listContainers)
	h("POST /containers/create", s.createContainer)
	h("POST /containers/prune", s.pruneContainers)
	h("GET /containers/{id}/json", s.inspectContainer)
	h("POST /containers/{id}/start", s.startContainer)
	h("POST /containers/{id}/stop", s.stopContainer)
	h("POST /containers/{id}/restart", s.restartContainer)
	h("POST /containers/{id}/kill", s.killContainer)
	h("POST /containers/{id}/wait", s.waitContainer)
	h("POST /containers/{id}/attach", s.attachContainer)
	h("GET /containers/{id}/attach/ws", s.attachWebsocket)
	h("POST /containers/{id}/resize", s.resizeContainer)
	h("POST /containers/{id}/rename", s.renameContainer)
	h("POST /containers/{id}/pause", s.pauseContainer)
	h("POST /containers/{id}/unpause", s.unpauseContainer)
	h("POST /containers/{id}/update", s.updateContainer)
	h("GET /containers/{id}/logs", s.logsContainer)
	h("GET /containers/{id}/top", s.topContainer)
	h("GET /containers/{id}/changes", s.changesContainer)
	h("GET /containers/{id}/stats", s.statsContainer)
	h("GET /containers/{id}/export", s.exportContainer)
	h("GET /containers/{id}/archive", s.getArchive)
	h("HEAD /containers/{id}/archive", s.statArchive)
	h("PUT /containers/{id}/archive", s.putArchive)
	h("DELETE /containers/{id}", s.removeContainer)
	h("POST /containers/{id}/exec", s.execCreate)
	h("POST /exec/{id}/start", s.execStart)
	h("POST /exec/{id}/resize", s.execResize)
	h("GET /exec/{id}/json", s.execInspect)

	h("GET /images/json", s.listImages)
	h("POST /images/create", s.pullImage)
	h("POST /images/prune", s.pruneImages)
	h("GET /images/get", s.getImages)
	h("POST /images/load", s.loadImages)
	h("GET /images/search", s.searchImages)
	h("/images/{rest...}", s.imageRoute)
	h("POST /commit", s.commitContainer)

	h("GET /volumes", s.listVolumes)
	h("POST /volumes/create", s.createVolume)
	h("POST /volumes/prune", s.pruneVolumes)
	h("GET /volumes/{name}", s.inspectVolume)
	h("DELETE /volumes/{name}", s.removeVolume)

	h("GET /networks", s.listNetworks)
	h("GET /networks/{id}", s.inspectNetwork)
	h("POST /networks/create", s.createNetwork)
	h("POST /networks/prune", s.pruneNetworks)
	h("POST /networks/{id}/connect", s.connectNetwork)
	h("POST /networks/{id}/disconnect", s.disconnectNetwork)
	h("DELETE /networks/{id}", s.removeNetwork)

	h("POST /build", s.buildImage)
	h("POST /build/prune", s.pruneBuildCache)
	h("POST /session", s.notServed("BuildKit sessions: set DOCKER_BUILDKIT=0"))
	h("POST /grpc", s.notServed("BuildKit's gRPC: set DOCKER_BUILDKIT=0"))
	h("/swarm/", s.notServed("swarm mode"))
	h("/services/", s.notServed("swarm services"))
	h("/nodes/", s.notServed("swarm nodes"))
	h("/tasks/", s.notServed("swarm tasks"))
	h("/secrets/", s.notServed("swarm secrets"))
	h("/configs/", s.notServed("swarm configs"))
	// lodger has no plugins: the list is empty and a name is not found,
	// so that `docker inspect NAME` (which tries a plugin last) ends
	// with Docker's "No such object" when nothing has that name.
	h("GET /plugins", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, []struct{}{}) })
	h("GET /plugins/{name}/json", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("plugin %q not found", r.PathValue("name")))
	})
	h("/plugins/", s.notServed("plugins"))
	h("/distribution/", s.notServed("distribution inspect"))
	h("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("page not found: %s %s", r.Method, r.URL.Path))
	})
}

// notServed answers an endpoint lodger does not implement: 501 and what.
func (s *Server) notServed(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notImplemented("%s is not implemented by lodger", what))
	}
}
