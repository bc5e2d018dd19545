package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/storage"
)

// CleanupArg is argv[1] of the lodger process a container's monitor runs
// once the container has ended for good: the monitor holds no storage, so
// unmounting and --rm come back to lodger, as podman's conmon calls
// `podman container cleanup`.
const CleanupArg = "_lodger-cleanup"

// cleanupRequest is what the cleanup reads on stdin.
type cleanupRequest struct {
	ID      string          `json:"id"`
	Remove  bool            `json:"remove"`
	Storage storage.Options `json:"storage"`
}

// logFile is the container's log, in storage's persistent container
// directory: one line per output line, "RFC3339NANO STREAM F|P TEXT".
func logFile(store cstorage.Store, id string) (string, error) {
	dir, err := store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ctr.log"), nil
}

// startMonitor hands a created and mounted container to a new monitor,
// with the paths it writes to and the command that cleans up after it,
// and returns once the container's process runs.
func startMonitor(store cstorage.Store, so storage.Options, n NetworkSettings, req monitor.Request, listeners []ports.Listener) error {
	var err error
	if req.RunDir, err = store.ContainerRunDirectory(req.ID); err != nil {
		return err
	}
	if req.LogPath, err = logFile(store, req.ID); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	stdin, err := json.Marshal(cleanupRequest{ID: req.ID, Remove: req.Remove, Storage: so})
	if err != nil {
		return err
	}
	req.AttachSocket = attachPath(req.ID)
	req.Netstack = n.stack()
	req.Cleanup = monitor.Command{Args: []string{self, CleanupArg, req.ID}, Stdin: stdin}
	return monitor.Start(req, listeners)
}

// CleanupMain is the cleanup after a detached container; main dispatches
// here when os.Args[1] is CleanupArg. It unmounts the root filesystem and,
// for --rm, deletes the container and its anonymous volumes.
func CleanupMain() int {
	var req cleanupRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "lodger: read cleanup request: %v\n", err)
		return 1
	}
	store, err := storage.Open(req.Storage)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lodger: %v\n", err)
		return 1
	}
	defer store.Shutdown(false)
	_, _ = store.Unmount(req.ID, true)
	if req.Remove {
		var vols []string
		if c, err := store.Container(req.ID); err == nil {
			vols = ContainerVolumes(c)
		}
		// --rm takes the anonymous volumes too, as in Docker.
		if store.DeleteContainer(req.ID) == nil {
			_ = RemoveAnonymousVolumes(store, vols)
		}
	}
	return 0
}
