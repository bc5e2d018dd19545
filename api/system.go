package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	dockercontainer "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	dockervolume "github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	lodgerbuild "github.com/lodger-containers/lodger/build"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/transfer"
	"github.com/lodger-containers/lodger/sysinfo"
)

// ping is GET and HEAD /_ping: "OK" with the negotiation headers.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write([]byte("OK"))
}

// VersionResponse is /version's report, also `lodger version`'s server
// section.
func VersionResponse(lodgerVersion string) system.VersionResponse {
	var uts unix.Utsname
	kernel := ""
	if unix.Uname(&uts) == nil {
		kernel = unix.ByteSliceToString(uts.Release[:])
	}
	v := system.VersionResponse{Platform: system.PlatformInfo{Name: "lodger"}, Version: lodgerVersion,
		APIVersion: Version, MinAPIVersion: MinVersion, Os: runtime.GOOS, Arch: runtime.GOARCH,
		GoVersion: runtime.Version(), KernelVersion: kernel}
	v.Components = []system.ComponentVersion{{Name: "Engine", Version: lodgerVersion, Details: map[string]string{
		"ApiVersion": Version, "MinAPIVersion": MinVersion, "GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch,
		"KernelVersion": kernel, "Experimental": "false"}}}
	return v
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionResponse(s.o.LodgerVersion))
}

// info is GET /info: Docker's info fields from the same facts `lodger
// info` reports.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	si, err := sysinfo.Collect(s.o.Store)
	if err != nil {
		writeError(w, err)
		return
	}
	si.Version = s.o.LodgerVersion
	d := si.Docker()
	infos, _ := container.List(s.o.Store)
	d.Containers = len(infos)
	for _, in := range infos {
		switch {
		case in.State.Status == monitor.StatusRunning && in.State.Paused:
			d.ContainersPaused++
		case in.State.Status == monitor.StatusRunning:
			d.ContainersRunning++
		default:
			d.ContainersStopped++
		}
	}
	d.ID = "lodger"
	d.IndexServerAddress = "https://index.docker.io/v1/"
	d.Runtimes = map[string]system.RuntimeWithStatus{"lodger": {}}
	d.Swarm.LocalNodeState = "inactive"
	d.Plugins = system.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "null"},
		Log: []string{"json-file", "k8s-file", "none"}}
	writeJSON(w, http.StatusOK, d)
}

// events is GET /events: the user's event journal, which every lodger
// process and monitor writes, followed live until the client leaves or
// until is reached.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	var o events.ReadOptions
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &o.Since}, {"until", &o.Until}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := parseUnixTime(v)
			if err != nil {
				writeError(w, badRequest("invalid %s %q: %v", p.name, v, err))
				return
			}
			*p.to = t
		}
	}
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if o.Filter, err = events.ParseFilter(flattenFilters(filters)); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	sw.Flush()
	ctx := r.Context()
	if !o.Until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.Until.Add(200*time.Millisecond))
		defer cancel()
	}
	err = events.Read(ctx, container.JournalPath(), o, func(m events.Message) error { return jsonLine(sw, m) })
	_ = err // the stream's end is the client's or until's
}

// diskUsage is GET /system/df, in both of Docker's shapes: the lists of
// API 1.51 and before (Docker 28's CLI reads those) and the usage objects
// of 1.52 and after.
func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
	store := s.o.Store
	iu, err := image.DiskUsage(store)
	if err != nil {
		writeError(w, err)
		return
	}
	cu, err := container.DiskUsage(store)
	if err != nil {
		writeError(w, err)
		return
	}
	vs := container.VolumeStore(store)
	vu, err := vs.DiskUsage()
	if err != nil {
		writeError(w, err)
		return
	}
	imgs, err := s.imageSummaries(r.Context(), nil, true)
	if err != nil {
		writeError(w, err)
		return
	}
	// Size as the layers' and SharedSize filled in, as Docker's daemon
	// does for df: its CLI takes what in-use images hold from
	// LayersSize to tell what is reclaimable.
	for i := range imgs {
		if u, ok := iu.Images[strings.TrimPrefix(imgs[i].ID, "sha256:")]; ok {
			imgs[i].Size, imgs[i].SharedSize = u.Layers, u.Shared
		}
	}
	infos, _ := container.List(store)
	ctrs := []dockercontainer.Summary{}
	for _, in := range infos {
		ctrs = append(ctrs, summary(store, in, true))
	}
	vols := []*dockervolume.Volume{}
	if list, err := vs.List(); err == nil {
		for _, v := range list {
			rep := v.Report()
			vols = append(vols, &rep)
		}
	}
	// The build cache: the cache mounts of RUN --mount=type=cache, each a
	// record (Docker's CLI before API 1.52 sums the records itself).
	bu, err := lodgerbuild.DiskUsage(store)
	if err != nil {
		writeError(w, err)
		return
	}
	cache := []*build.CacheRecord{}
	for _, m := range bu.Mounts {
		used := m.LastUsed
		cache = append(cache, &build.CacheRecord{ID: m.ID, Type: "exec.cachemount", Description: "cache mount " + m.ID,
			InUse: m.InUse, Size: m.Size, CreatedAt: used, LastUsedAt: &used})
	}
	resp := struct {
		LayersSize int64
		Images     any
		Containers []dockercontainer.Summary
		Volumes    []*dockervolume.Volume
		BuildCache []*build.CacheRecord
		system.DiskUsage
	}{LayersSize: iu.Size, Images: withVirtualSize(r, imgs), Containers: ctrs, Volumes: vols, BuildCache: cache}
	resp.ImageUsage = &imagetypes.DiskUsage{ActiveCount: int64(iu.Active), TotalCount: int64(iu.Total), TotalSize: iu.Size, Reclaimable: iu.Reclaimable}
	resp.ContainerUsage = &dockercontainer.DiskUsage{ActiveCount: int64(cu.Active), TotalCount: int64(cu.Total), TotalSize: cu.Size, Reclaimable: cu.Reclaimable}
	resp.VolumeUsage = &dockervolume.DiskUsage{ActiveCount: int64(vu.Active), TotalCount: int64(vu.Total), TotalSize: vu.Size, Reclaimable: vu.Reclaimable}
	resp.BuildCacheUsage = &build.DiskUsage{ActiveCount: int64(bu.Active), TotalCount: int64(bu.Total), TotalSize: bu.Size, Reclaimable: bu.Reclaimable}
	writeJSON(w, http.StatusOK, resp)
}

// auth is POST /auth: the login is checked with the registry and not
// stored; Docker's clients keep their credentials themselves.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	var req registry.AuthConfig
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	server := req.ServerAddress
	server = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	server = strings.TrimSuffix(strings.TrimSuffix(server, "/"), "/v1")
	if server == "" || server == "index.docker.io" {
		server = "docker.io"
	}
	if err := transfer.CheckLogin(r.Context(), server, req.Username, req.Password, s.o.Pull); err != nil {
		writeError(w, &statusError{code: http.StatusUnauthorized, err: err})
		return
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
}

// registryAuth decodes X-Registry-Auth, base64url JSON of an AuthConfig;
// nil when absent or empty.
func registryAuth(r *http.Request) (*image.Credentials, error) {
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return nil, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			if b, err = base64.StdEncoding.DecodeString(h); err != nil {
				return nil, badRequest("X-Registry-Auth: not base64url: %v", err)
			}
		}
	}
	var ac registry.AuthConfig
	if err := json.Unmarshal(b, &ac); err != nil {
		// Docker ignores a header it cannot decode as credentials ("{}").
		return nil, nil
	}
	if ac.Auth != "" && ac.Username == "" {
		if raw, err := base64.StdEncoding.DecodeString(ac.Auth); err == nil {
			ac.Username, ac.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" {
		return nil, nil
	}
	return &image.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken}, nil
}
