package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	dockercontainer "github.com/moby/moby/api/types/container"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/container/monitor"
)

// UpdateOptions are what `lodger update` changes: Docker's UpdateConfig.
type UpdateOptions struct {
	// Resources are the resource limits asked for, Docker's fields; the
	// zero value asks for none.
	Resources dockercontainer.Resources
	// Restart is the new restart policy; nil keeps the container's.
	Restart *monitor.RestartPolicy
}

// ErrLimitsNotApplied says resource limits were asked for that lodger
// cannot apply on this machine; the error wrapping it says why.
var ErrLimitsNotApplied = errors.New("resource limits cannot be applied")

// Update changes a container's restart policy and resource limits, as
// Docker's update. The restart policy is kept in the record, for the next
// start, and handed to a running container's monitor, whose next exit
// follows it. Memory, CPUs and pids limits are written into a running
// container's own cgroups, and kept in the record for the next start; a
// limit lodger cannot apply (no such cgroup: the container was started
// where none is delegated; a stopped container where this process has
// none; any other resource) fails with ErrLimitsNotApplied before
// anything changed.
func Update(store cstorage.Store, ref string, o UpdateOptions) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	limits, err := updatedLimits(in, o.Resources)
	if err != nil {
		return fmt.Errorf("update %s: %w", in.Name, err)
	}
	if o.Restart == nil && limits == nil {
		return nil
	}
	p := in.Metadata.Restart
	if o.Restart != nil {
		p = *o.Restart
	}
	switch {
	case o.Restart == nil:
	case p.Name != "" && in.Metadata.Remove:
		// Docker's rule: a container removed at exit cannot restart.
		return fmt.Errorf("update %s: the restart policy cannot be changed because the container is removed when it exits (--rm)", in.Name)
	case in.State.Status == monitor.StatusRunning && in.State.Foreground && p.Name != "":
		return fmt.Errorf("update %s: a container run in the foreground has no monitor to restart it; run it with -d for a restart policy", in.Name)
	}
	c, err := store.Container(in.ID)
	if err != nil {
		return fmt.Errorf("update %s: %w", in.Name, err)
	}
	// The record is changed key by key, so that what this lodger does
	// not know of it survives.
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(c.Metadata), &rec); err != nil || rec == nil {
		return fmt.Errorf("update %s: read container record: %v", in.Name, err)
	}
	if p.Name == "" {
		delete(rec, "restart")
	} else if rec["restart"], err = json.Marshal(p); err != nil {
		return err
	}
	if limits != nil {
		if rec["limits"], err = json.Marshal(*limits); err != nil {
			return err
		}
		if g := in.State.Cgroup; in.State.Status == monitor.StatusRunning && g != nil {
			if err := g.Set(*limits); err != nil {
				return fmt.Errorf("update %s: %w", in.Name, err)
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := store.SetMetadata(in.ID, string(b)); err != nil {
		return fmt.Errorf("update %s: %w", in.Name, err)
	}
	if o.Restart != nil && in.State.Status == monitor.StatusRunning && !in.State.Foreground {
		dir, err := store.ContainerRunDirectory(in.ID)
		if err != nil {
			return fmt.Errorf("update %s: %w", in.Name, err)
		}
		if err := monitor.SetRestart(dir, p); err != nil {
			return fmt.Errorf("update %s: %w", in.Name, err)
		}
	}
	in.emit("update")
	return nil
}

// updatedLimits are the container's limits with r's applied; nil when r
// asks for none. A limit is refused when the running container has no
// cgroup of that controller, or, stopped, when this process has none
// delegated to start it under; resources other than memory, CPUs and
// pids are refused, lodger writing only those.
func updatedLimits(in Info, r dockercontainer.Resources) (*cgroups.Limits, error) {
	l := in.Metadata.Limits
	asked := cgroups.Limits{Memory: r.Memory, NanoCPUs: r.NanoCPUs}
	if r.PidsLimit != nil {
		asked.Pids = *r.PidsLimit
		if asked.Pids == 0 {
			asked.Pids = -1 // Docker's 0: unlimited
		}
	}
	rest := r
	rest.Memory, rest.NanoCPUs, rest.PidsLimit = 0, 0, nil
	if !reflect.ValueOf(rest).IsZero() {
		return nil, fmt.Errorf("%w: lodger applies memory, CPUs and pids limits only", ErrLimitsNotApplied)
	}
	if asked.IsZero() {
		return nil, nil
	}
	if in.State.Status == monitor.StatusRunning {
		var missing []string
		for _, c := range asked.Controllers() {
			if g := in.State.Cgroup; g == nil || !g.Has(c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: the container runs in no %s cgroup of its own: none was delegated where it started (lodger info there says what is)",
				ErrLimitsNotApplied, strings.Join(missing, ", "))
		}
	} else if r := cgroups.Detect(); len(r.Missing(asked)) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrLimitsNotApplied, r.LimitsReason(r.Missing(asked)...))
	}
	if asked.Memory != 0 {
		l.Memory = asked.Memory
	}
	if asked.NanoCPUs != 0 {
		l.NanoCPUs = asked.NanoCPUs
	}
	if asked.Pids != 0 {
		l.Pids = asked.Pids
	}
	return &l, nil
}
