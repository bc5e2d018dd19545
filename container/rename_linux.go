package container

import (
	"errors"
	"fmt"
	"slices"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
)

// Rename gives the container ref the name newName, running or not; the old
// name is free afterwards.
func Rename(store cstorage.Store, ref, newName string) error {
	if !validName().MatchString(newName) {
		return fmt.Errorf("rename to %q: invalid container name: use letters, digits, '_', '.' and '-', starting with a letter or digit", newName)
	}
	in, err := Get(store, ref)
	if err != nil {
		return err
	}
	if in.Name == newName {
		return fmt.Errorf("rename %s: the container has that name already", in.Name)
	}
	// Storage's SetNames takes a name from whichever container holds it,
	// so the check is ours. It is not atomic with the change: a create
	// racing between the two may lose its name, as storage would let it.
	cs, err := store.Containers()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.ID != in.ID && slices.Contains(c.Names, newName) {
			return fmt.Errorf("rename %s to %s: %w by container %s", in.Name, newName, ErrNameInUse, c.ID[:12])
		}
	}
	if err := store.SetNames(in.ID, []string{newName}); err != nil {
		if errors.Is(err, cstorage.ErrContainerUnknown) {
			return fmt.Errorf("no such container %q: %w", ref, err)
		}
		return fmt.Errorf("rename %s: %w", in.Name, err)
	}
	// A running container's monitor writes its events (die) with the
	// name it has now.
	if in.State.Status == monitor.StatusRunning {
		if dir, err := store.ContainerRunDirectory(in.ID); err == nil {
			_ = monitor.SetName(dir, newName)
		}
	}
	// The new name resolves on the container's networks.
	if in.Metadata.networkOf().Mode == NetworkUser {
		_ = NetworkStore(store).Rename(in.ID, newName)
	}
	// Docker's: the new name, and the old one as its record had it.
	oldName := "/" + in.Name
	in.Name = newName
	in.emit("rename", "oldName", oldName)
	return nil
}
