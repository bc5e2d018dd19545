package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

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
// follows it. Resource limits need a cgroup of the container's own, and
// lodger places none yet: asking for one fails with ErrLimitsNotApplied,
// before anything changed.
func Update(store cstorage.Store, ref string, o UpdateOptions) error {
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if !reflect.ValueOf(o.Resources).IsZero() {
		return fmt.Errorf("update %s: %w: %s", in.Name, ErrLimitsNotApplied, cgroups.Detect().LimitsReason())
	}
	if o.Restart == nil {
		return nil
	}
	p := *o.Restart
	switch {
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
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := store.SetMetadata(in.ID, string(b)); err != nil {
		return fmt.Errorf("update %s: %w", in.Name, err)
	}
	if in.State.Status == monitor.StatusRunning && !in.State.Foreground {
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
