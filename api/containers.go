package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/image"
)

// listContainers is GET /containers/json.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := intParam(r, "limit", -1)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := container.ParseFilters(flattenFilters(filters))
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	store := s.o.Store
	f.ResolveAncestors(func(ref string) (string, error) {
		img, err := image.Lookup(store, ref, image.Options{})
		if err != nil {
			return "", err
		}
		return img.ID, nil
	})
	infos, err := container.List(store)
	if err != nil {
		writeError(w, err)
		return
	}
	all := boolParam(r, "all") || limit > 0 || f.HasStatus()
	size := boolParam(r, "size")
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].Metadata.Created.After(infos[j].Metadata.Created) })
	out := []dockercontainer.Summary{}
	for _, in := range infos {
		if !all && in.State.Status != monitor.StatusRunning || !f.Match(in) {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, summary(store, in, size))
	}
	writeJSON(w, http.StatusOK, out)
}

// summary is a container as Docker's list shows it.
func summary(store cstorage.Store, in container.Info, size bool) dockercontainer.Summary {
	st := dockercontainer.StateCreated
	switch {
	case in.State.Status == monitor.StatusRunning && in.State.Paused:
		st = dockercontainer.StatePaused
	case in.State.Status == monitor.StatusRunning:
		st = dockercontainer.StateRunning
	case in.State.Status == monitor.StatusExited:
		st = dockercontainer.StateExited
	}
	sum := dockercontainer.Summary{
		ID: in.ID, Names: []string{"/" + in.Name}, Image: in.Metadata.Image, ImageID: "sha256:" + in.ImageID,
		Command: strings.Join(in.Metadata.Command, " "), Created: in.Metadata.Created.Unix(),
		Ports: []dockercontainer.PortSummary{}, Labels: in.Metadata.Labels, State: st, Status: in.State.StatusText(),
		Mounts: []dockercontainer.MountPoint{},
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	sum.HostConfig.NetworkMode = in.Metadata.NetworkName()
	sum.NetworkSettings = &dockercontainer.NetworkSettingsSummary{Networks: container.NetworkEndpoints(store, in)}
	if in.State.Status == monitor.StatusRunning {
		for _, p := range in.State.Ports {
			ps := dockercontainer.PortSummary{PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Protocol, IP: p.HostIP}
			if !p.HostIP.IsValid() {
				ps.IP = zeroIPv4
			}
			sum.Ports = append(sum.Ports, ps)
		}
	}
	if h := in.State.Health; h != nil && in.State.Status == monitor.StatusRunning {
		sum.Health = &dockercontainer.HealthSummary{Status: dockercontainer.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	for _, v := range in.Metadata.Volumes {
		sum.Mounts = append(sum.Mounts, dockercontainer.MountPoint{Type: mount.TypeVolume, Name: v, Driver: "local", RW: true})
	}
	if size {
		if rw, err := store.ContainerSize(in.ID); err == nil {
			sum.SizeRw = rw
			sum.SizeRootFs = rw
			if n, err := store.ImageSize(in.ImageID); err == nil {
				sum.SizeRootFs += n
			}
		}
	}
	return sum
}

// inspectContainer is GET /containers/{id}/json.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) {
	rep, err := container.Inspect(r.Context(), s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if boolParam(r, "size") {
		container.AddSizes(s.o.Store, rep)
	}
	writeJSON(w, http.StatusOK, rep)
}

// startContainer is POST /containers/{id}/start: 204, or 304 when it runs
// already.
func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) {
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if in.State.Status == monitor.StatusRunning {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// A client attached before the start (docker run) must see the
	// output from the first byte: the monitor keeps it until it connects.
	attached := s.attaches.pending(in.ID)
	if _, err := container.Start(context.WithoutCancel(r.Context()), s.o.Store, in.ID, container.StartOptions{Storage: s.o.StoreOptions, Attached: attached}); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopTimeout reads Docker's t (or timeout) parameter; -1 is the
// container's own.
func stopTimeout(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	v := q.Get("t")
	if v == "" {
		v = q.Get("timeout")
	}
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("invalid t %q: not an integer", v)
	}
	if n < 0 {
		return 0, nil
	}
	return time.Duration(n) * time.Second, nil
}

// stopContainer is POST /containers/{id}/stop: 204, or 304 when it is not
// running.
func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) {
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := stopTimeout(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if in.State.Status != monitor.StatusRunning {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := container.Stop(context.WithoutCancel(r.Context()), s.o.Store, in.ID, t); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restartContainer is POST /containers/{id}/restart: stop as stop does,
// then start.
func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request) {
	t, err := stopTimeout(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	id := r.PathValue("id")
	// The CLI's restart, with Docker's restart event after the start.
	if _, err := container.Restart(ctx, s.o.Store, id, t, container.StartOptions{Storage: s.o.StoreOptions}); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// killContainer is POST /containers/{id}/kill?signal=.
func (s *Server) killContainer(w http.ResponseWriter, r *http.Request) {
	sig := syscall.SIGKILL
	if v := r.URL.Query().Get("signal"); v != "" {
		s, err := container.ParseSignal(v)
		if err != nil {
			writeError(w, badRequest("invalid signal %q: %v", v, err))
			return
		}
		sig = s
	}
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := container.Signal(in, sig); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitContainer is POST /containers/{id}/wait?condition=not-running|
// next-exit|removed. The status line goes out at once, the result when
// the condition holds, as Docker's.
func (s *Server) waitContainer(w http.ResponseWriter, r *http.Request) {
	cond := r.URL.Query().Get("condition")
	switch cond {
	case "", "not-running", "next-exit", "removed":
	default:
		writeError(w, badRequest("invalid condition %q: use not-running, next-exit or removed", cond))
		return
	}
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if cond == "" {
		cond = container.WaitNotRunning
	}
	code, ok, err := container.WaitFor(r.Context(), s.o.Store, in.ID, cond)
	if r.Context().Err() != nil {
		return // the client left
	}
	resp := dockercontainer.WaitResponse{StatusCode: int64(code)}
	switch {
	case err != nil:
		resp.Error = &dockercontainer.WaitExitError{Message: err.Error()}
	case !ok:
		resp.Error = &dockercontainer.WaitExitError{Message: "the container's exit code is unknown: its monitor went away"}
	}
	_ = jsonLine(w, resp)
}

// removeContainer is DELETE /containers/{id}?force=&v=.
func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) {
	store := s.o.Store
	c, err := store.Container(r.PathValue("id"))
	if err != nil {
		writeError(w, fmt.Errorf("no such container: %s: %w", r.PathValue("id"), err))
		return
	}
	vols := container.ContainerVolumes(c)
	if err := container.Remove(context.WithoutCancel(r.Context()), store, c.ID, boolParam(r, "force")); err != nil {
		writeError(w, err)
		return
	}
	if boolParam(r, "v") {
		if err := container.RemoveAnonymousVolumes(store, vols); err != nil {
			writeError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// renameContainer is POST /containers/{id}/rename?name=.
func (s *Server) renameContainer(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name == "" {
		writeError(w, badRequest("rename: a new name is required (name=)"))
		return
	}
	if err := container.Rename(s.o.Store, r.PathValue("id"), name); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pauseContainer and unpauseContainer are POST /containers/{id}/pause and
// unpause.
func (s *Server) pauseContainer(w http.ResponseWriter, r *http.Request) {
	if err := container.Pause(s.o.Store, r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unpauseContainer(w http.ResponseWriter, r *http.Request) {
	if err := container.Unpause(s.o.Store, r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// topContainer is GET /containers/{id}/top, with ps -ef's columns.
func (s *Server) topContainer(w http.ResponseWriter, r *http.Request) {
	procs, err := container.Top(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	resp := dockercontainer.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, Processes: [][]string{}}
	for _, p := range procs {
		t := int(p.Time.Seconds())
		resp.Processes = append(resp.Processes, []string{strconv.Itoa(p.UID), strconv.Itoa(p.PID), strconv.Itoa(p.PPID),
			strconv.Itoa(p.CPU), p.Start.Format("15:04"), p.TTY, fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60), p.Cmd})
	}
	writeJSON(w, http.StatusOK, resp)
}

// changesContainer is GET /containers/{id}/changes.
func (s *Server) changesContainer(w http.ResponseWriter, r *http.Request) {
	changes, err := container.Diff(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := []dockercontainer.FilesystemChange{}
	for _, c := range changes {
		k := dockercontainer.ChangeModify
		switch c.Kind {
		case 'A':
			k = dockercontainer.ChangeAdd
		case 'D':
			k = dockercontainer.ChangeDelete
		}
		out = append(out, dockercontainer.FilesystemChange{Path: c.Path, Kind: k})
	}
	writeJSON(w, http.StatusOK, out)
}

// exportContainer is GET /containers/{id}/export: the root file system
// as a tar.
func (s *Server) exportContainer(w http.ResponseWriter, r *http.Request) {
	if _, err := container.Get(s.o.Store, r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := container.Export(s.o.Store, r.PathValue("id"), w); err != nil {
		// The status went out with the first bytes; the client sees a
		// short tar.
		return
	}
}

// pruneContainers is POST /containers/prune.
func (s *Server) pruneContainers(w http.ResponseWriter, r *http.Request) {
	f, _, err := pruneFilters(r, "until", "label", "label!")
	if err != nil {
		writeError(w, err)
		return
	}
	rep, err := container.Prune(context.WithoutCancel(r.Context()), s.o.Store, f)
	if err != nil && len(rep.Removed) == 0 {
		writeError(w, err)
		return
	}
	out := dockercontainer.PruneReport{ContainersDeleted: rep.Removed, SpaceReclaimed: uint64(max(rep.Reclaimed, 0))}
	if out.ContainersDeleted == nil {
		out.ContainersDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// resizeContainer is POST /containers/{id}/resize?h=&w=.
func (s *Server) resizeContainer(w http.ResponseWriter, r *http.Request) {
	rows, cols, err := sizeParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if in.State.Status != monitor.StatusRunning {
		writeError(w, fmt.Errorf("resize %s: %w", in.Name, container.ErrNotRunning))
		return
	}
	if err := s.attaches.resize(in.ID, rows, cols); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func sizeParams(r *http.Request) (uint16, uint16, error) {
	h, err := intParam(r, "h", 0)
	if err != nil {
		return 0, 0, err
	}
	wd, err := intParam(r, "w", 0)
	if err != nil {
		return 0, 0, err
	}
	if h < 0 || wd < 0 || h > 65535 || wd > 65535 {
		return 0, 0, badRequest("invalid size %dx%d", h, wd)
	}
	return uint16(h), uint16(wd), nil
}

// updateContainer is POST /containers/{id}/update. Only the restart policy
// has a place to go; resource limits cannot be applied without a
// delegated cgroup, which lodger does not use yet.
func (s *Server) updateContainer(w http.ResponseWriter, r *http.Request) {
	var req dockercontainer.UpdateConfig
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	o := container.UpdateOptions{Resources: req.Resources}
	if rp := req.RestartPolicy; rp.Name != "" {
		name := string(rp.Name)
		if rp.Name == dockercontainer.RestartPolicyDisabled {
			name = ""
		} else if err := (monitor.RestartPolicy{Name: name, MaxRetries: rp.MaximumRetryCount}).Check(); err != nil {
			writeError(w, badRequest("RestartPolicy %q: use no, on-failure, always or unless-stopped", rp.Name))
			return
		}
		o.Restart = &monitor.RestartPolicy{Name: name, MaxRetries: rp.MaximumRetryCount}
	}
	// The same call as `lodger update`: limits written into the
	// container's own cgroups where one is delegated, refused otherwise
	// (ErrLimitsNotApplied, with the reason) before anything changed.
	if err := container.Update(s.o.Store, r.PathValue("id"), o); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dockercontainer.UpdateResponse{Warnings: []string{}})
}

// logsContainer is GET /containers/{id}/logs: the multiplexed stream
// without a TTY, raw with one.
func (s *Server) logsContainer(w http.ResponseWriter, r *http.Request) {
	store := s.o.Store
	in, err := container.Get(store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	stdout, stderr := boolParam(r, "stdout"), boolParam(r, "stderr")
	if !stdout && !stderr {
		writeError(w, badRequest("you must choose at least one stream (stdout=1 or stderr=1)"))
		return
	}
	o := container.LogOptions{Follow: boolParam(r, "follow"), Timestamps: boolParam(r, "timestamps"), Details: boolParam(r, "details"), Tail: -1}
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			writeError(w, badRequest("invalid tail %q: a number of lines or all", t))
			return
		}
		// A negative count is all, as Docker's daemon reads it:
		// testcontainers for node sends tail=-1.
		o.Tail = max(n, -1)
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &o.Since}, {"until", &o.Until}} {
		if v := r.URL.Query().Get(p.name); v != "" && v != "0" {
			t, err := parseUnixTime(v)
			if err != nil {
				writeError(w, badRequest("invalid %s %q: %v", p.name, v, err))
				return
			}
			*p.to = t
		}
	}
	tty, _ := container.HasTerminal(store, in.ID)
	ct := "application/vnd.docker.multiplexed-stream"
	if tty {
		ct = "application/vnd.docker.raw-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	var ow, ew io.Writer = io.Discard, io.Discard
	if tty {
		if stdout {
			ow = sw
		}
		if stderr {
			ew = sw
		}
	} else {
		if stdout {
			ow = &muxWriter{w: sw, stream: 1}
		}
		if stderr {
			ew = &muxWriter{w: sw, stream: 2}
		}
	}
	sw.Flush()
	_ = container.Logs(r.Context(), store, in.ID, o, ow, ew)
}

// parseUnixTime reads Docker's since/until: seconds since the epoch, with
// an optional fraction.
func parseUnixTime(v string) (time.Time, error) {
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(s, ns), nil
}

// statsContainer is GET /containers/{id}/stats?stream=&one-shot=.
func (s *Server) statsContainer(w http.ResponseWriter, r *http.Request) {
	in, err := container.Get(s.o.Store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolParam(r, "stream")
	oneShot := boolParam(r, "one-shot")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w)
	prev := statsOf(in, container.Sample{}, container.Stats(in))
	if !stream && oneShot {
		_ = jsonLine(sw, prev)
		return
	}
	// Docker's first sample of a non-streamed request has its precpu
	// from a second before, so that the CLI can compute a CPU share.
	ctx := r.Context()
	last := container.Stats(in)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if cur, err := container.Get(s.o.Store, in.ID); err == nil {
			in = cur
		}
		now := container.Stats(in)
		resp := statsOf(in, last, now)
		if err := jsonLine(sw, resp); err != nil || !stream {
			return
		}
		last = now
	}
}

// statsOf is a sample in Docker's stats schema, with prev as its precpu.
func statsOf(in container.Info, prev, cur container.Sample) dockercontainer.StatsResponse {
	resp := dockercontainer.StatsResponse{ID: in.ID, Name: "/" + in.Name, OSType: "linux", Read: cur.At, PreRead: prev.At,
		NumProcs: 0}
	ncpu := uint32(onlineCPUs())
	resp.CPUStats = dockercontainer.CPUStats{CPUUsage: dockercontainer.CPUUsage{TotalUsage: uint64(cur.CPU)}, SystemUsage: sysUsageAt(cur.At), OnlineCPUs: ncpu}
	if !prev.At.IsZero() {
		resp.PreCPUStats = dockercontainer.CPUStats{CPUUsage: dockercontainer.CPUUsage{TotalUsage: uint64(prev.CPU)}, SystemUsage: sysUsageAt(prev.At), OnlineCPUs: ncpu}
	}
	resp.MemoryStats = dockercontainer.MemoryStats{Usage: cur.Memory, Limit: cur.MemoryLimit}
	resp.PidsStats = dockercontainer.PidsStats{Current: cur.PIDs}
	resp.Networks = map[string]dockercontainer.NetworkStats{"eth0": {RxBytes: cur.NetRx, TxBytes: cur.NetTx}}
	resp.BlkioStats = dockercontainer.BlkioStats{IoServiceBytesRecursive: []dockercontainer.BlkioStatEntry{
		{Op: "read", Value: cur.BlockRead}, {Op: "write", Value: cur.BlockWrite}}}
	return resp
}

// sysUsageAt is the system CPU time Docker's CPU share divides by: the
// wall time elapsed times the CPUs, in nanoseconds, so that the CLI's
// share (container delta / system delta × CPUs) is the share of one CPU.
func sysUsageAt(t time.Time) uint64 {
	return uint64(t.UnixNano()) * uint64(onlineCPUs())
}

func onlineCPUs() int {
	n := 0
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
			a, z, ok := strings.Cut(r, "-")
			x, _ := strconv.Atoi(a)
			y := x
			if ok {
				y, _ = strconv.Atoi(z)
			}
			n += y - x + 1
		}
	}
	if n <= 0 {
		n = 1
	}
	return n
}
