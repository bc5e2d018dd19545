package container

import (
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/network"
)

// NetworkStore returns the user networks of store's graph root, knowing
// from storage which containers still exist.
func NetworkStore(store cstorage.Store) *network.Store {
	ns := network.New(store.GraphRoot())
	ns.Exists = store.Exists
	return ns
}
