package monitor

import (
	"github.com/lodger-containers/lodger/cgroups"
	"github.com/lodger-containers/lodger/exec"
)

// Limited gives the container id's init the cgroups of l: made under
// the cgroups delegated to this process (NewGroup, for the controllers
// there are), with the init placed in them before anything else of h
// runs, so that everything the container starts is held by them. The
// returned Group is removed with Remove once the container has ended;
// it has no Dirs when l is zero or nothing is delegated.
func Limited(h exec.Hooks, id string, l cgroups.Limits) (exec.Hooks, cgroups.Group, error) {
	if l.IsZero() {
		return h, cgroups.Group{}, nil
	}
	g, err := cgroups.NewGroup(cgroups.Detect(), "lodger-"+id, l)
	if err != nil || len(g.Dirs) == 0 {
		return h, g, err
	}
	next := h.Prestart
	h.Prestart = func(pid int) error {
		if err := g.Add(pid); err != nil {
			return err
		}
		if next != nil {
			return next(pid)
		}
		return nil
	}
	return h, g, nil
}
