package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container/monitor"
	"github.com/lodger-containers/lodger/netstack/ports"
	"github.com/lodger-containers/lodger/rootless"
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
	req.Events = JournalPath()
	req.AttachSocket = attachPath(req.ID)
	if req.Netstack, req.Networks, err = n.userPlan(store, req.ID); err != nil {
		return err
	}
	req.NetworkRecords, req.DNS = NetworkStore(store).Dir(), n.DNS
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
	// For --rm, DeleteContainer unmounts the root filesystem itself.
	removed := false
	defer func() {
		if !removed {
			_, _ = store.Unmount(req.ID, true)
		}
	}()
	if req.Remove {
		if dir, err := store.ContainerRunDirectory(req.ID); err == nil {
			keepExitCode(req.ID, monitor.LoadState(dir))
		}
		var vols []string
		layer := ""
		if c, err := store.Container(req.ID); err == nil {
			vols = ContainerVolumes(c)
			layer = c.LayerID
		}
		// --rm takes the anonymous volumes too, as in Docker.
		in, ierr := Get(store, req.ID)
		if removeContainer(store, req.ID, layer, nil) {
			removed = true
			if ierr == nil {
				in.Metadata.networkOf().releaseUser(store, req.ID)
			}
			_ = RemoveAnonymousVolumes(store, vols)
			if ierr == nil {
				in.emit("destroy")
			}
		}
	}
	return 0
}

// removeContainer deletes the --rm container id (of layer) as its run
// ends and says whether it did. DeleteContainer unmounts the rootfs itself,
// under the lock it takes anyway (an Unmount first would take the store's
// locks and write its layer and mount records once more); what the
// container wrote, when large, is moved aside first and removed by a
// process of its own after lodger returned (issue 14). alongside, when
// set, runs beside the delete: work on records of lodger's own, which
// storage's locks do not guard.
func removeContainer(store cstorage.Store, id, layer string, alongside func()) bool {
	discarded := storage.DiscardUpper(store, id, layer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if alongside != nil {
			alongside()
		}
	}()
	err := store.DeleteContainer(id)
	<-done
	if err != nil {
		_ = discarded.Restore()
		return false
	}
	_ = discarded.Remove()
	return true
}

// exitCodeKept is how long the exit code of a --rm container outlives it,
// for a `wait` that polls a moment after the container was removed.
const exitCodeKept = 10 * time.Minute

func exitCodePath(id string) string { return filepath.Join(rootless.RunDir(), "exits", id) }

// keepExitCode writes the exit code of a --rm container about to be
// deleted where `wait` finds it, and removes codes kept too long.
func keepExitCode(id string, st monitor.State) {
	if st.ExitCode == nil {
		return
	}
	dir := filepath.Dir(exitCodePath(id))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > exitCodeKept {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	tmp := exitCodePath(id) + ".tmp"
	if os.WriteFile(tmp, []byte(strconv.Itoa(*st.ExitCode)), 0o600) == nil {
		_ = os.Rename(tmp, exitCodePath(id))
	}
}

// keptExitCode is the exit code keepExitCode wrote for id.
func keptExitCode(id string) (int, bool) {
	b, err := os.ReadFile(exitCodePath(id))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(string(b))
	return code, err == nil
}
