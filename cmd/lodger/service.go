//go:build lodger_transfer

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/api"
	"github.com/lodger-containers/lodger/internal/companion"
	"github.com/lodger-containers/lodger/internal/holder"
	"github.com/lodger-containers/lodger/internal/peercred"
	"github.com/lodger-containers/lodger/rootless"
	"github.com/lodger-containers/lodger/storage"
)

type serviceOptions struct {
	pullFlags
	idle     int
	printEnv bool
	logLevel string
}

// defaultServiceSocket is where `system service` listens without a URI.
// Never a name with podman.sock in it: some clients switch to podman's
// own API when they see one.
func defaultServiceSocket() string { return filepath.Join(rootless.RunDir(), "lodger.sock") }

func newSystemServiceCommand() *cobra.Command {
	var o serviceOptions
	cmd := &cobra.Command{
		Use:   systemServiceDoc.use,
		Short: systemServiceDoc.short,
		Long: `Serve the Docker Engine API on a unix socket of your own, so that the
docker CLI, docker compose, testcontainers and the Docker SDKs drive lodger:

  export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/lodger/lodger.sock

URI is unix:///PATH or a PATH (default $XDG_RUNTIME_DIR/lodger/lodger.sock,
or lodger's run directory under /tmp without XDG_RUNTIME_DIR). The socket's
directory must be yours and closed to others; the socket is 0600.

The service owns nothing: containers keep their own monitors, so the CLI
and the API see the same containers at once, and stopping the service
stops no container. It exits after --time seconds without a request or an
open stream (0: never). Started by systemd socket activation (LISTEN_FDS)
it serves the socket it is given: see contrib/systemd.

Idle for 10 seconds, the service keeps only the socket, in lodger-socket
(the same process), and starts again at the next connection.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.logLevel != "info" && o.logLevel != "debug" {
				return fmt.Errorf("--log-level %q: want info or debug", o.logLevel)
			}
			if o.idle < 0 {
				return fmt.Errorf("--time %d: want seconds >= 0 (0 never exits)", o.idle)
			}
			ln, held, err := heldListener()
			if err != nil {
				return err
			}
			if !held {
				var path string
				var activated bool
				ln, path, activated, err = serviceListener(args)
				if err != nil {
					return err
				}
				if o.printEnv {
					if ln != nil {
						ln.Close()
					}
					fmt.Fprintf(cmd.OutOrStdout(), "export DOCKER_HOST=unix://%s\n", path)
					return nil
				}
				// Returns only when there is no lodger-socket to hold the
				// socket: this process then serves it itself.
				if err := execHolder(ln, path, activated, o.idle); err != nil {
					ln.Close()
					return err
				}
				defer func() {
					ln.Close()
					if !activated {
						_ = os.Remove(path)
					}
				}()
			} else {
				defer ln.Close()
			}
			so, err := storeOptions()
			if err != nil {
				return err
			}
			store, err := storage.Open(so)
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ao := api.Options{Store: store, StoreOptions: so, Pull: o.options(cmd.Flags()), LodgerVersion: version}
			if o.logLevel == "debug" {
				ao.Log = func(format string, a ...any) {
					fmt.Fprintf(cmd.ErrOrStderr(), time.Now().Format("15:04:05.000")+" "+format+"\n", a...)
				}
			}
			srv := api.New(ao)
			// Only the user's own clients: another user is refused even
			// should the socket's mode let them connect.
			addr := ln.Addr()
			ln = peercred.Listener{Listener: ln, Refused: func(err error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "lodger: refused a connection to %s: %v\n", addr, err)
			}}
			return srv.Serve(ctx, ln, time.Duration(o.idle)*time.Second)
		},
	}
	cmd.Flags().IntVarP(&o.idle, "time", "t", 5, "seconds without a request or stream before the service exits (0: never)")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "debug logs every request to stderr")
	cmd.Flags().BoolVar(&o.printEnv, "print-env", false, "print the DOCKER_HOST to export for the socket, and exit")
	o.registerRegistry(cmd.Flags())
	return sessionCommand(cmd, 1)
}

// serviceListener is the socket to serve: systemd's (LISTEN_FDS, which
// the session's re-exec keeps: same pid, fds left open) or one made at
// the URI. activated says systemd owns the socket file.
func serviceListener(args []string) (net.Listener, string, bool, error) {
	if ln, path, ok, err := activationListener(); ok || err != nil {
		return ln, path, true, err
	}
	path := defaultServiceSocket()
	if len(args) == 1 {
		uri := args[0]
		switch {
		case strings.HasPrefix(uri, "unix://"):
			path = strings.TrimPrefix(uri, "unix://")
		case strings.Contains(uri, "://"):
			return nil, "", false, fmt.Errorf("%s: only unix:// sockets are served (a TCP socket would let anyone who reaches it act as you)", uri)
		default:
			path = uri
		}
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, "", false, err
		}
		path = abs
	}
	if strings.Contains(filepath.Base(path), "podman.sock") {
		return nil, "", false, fmt.Errorf("%s: a socket named podman.sock makes clients speak podman's own API; choose another name", path)
	}
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, "", false, err
	}
	if err := clearStaleSocket(path); err != nil {
		return nil, "", false, err
	}
	// The directory is closed to others, and the socket is made 0600
	// before anyone could connect through it.
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, "", false, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, path, false, nil
}

// privateDir makes dir (mode 0700) or checks that it is the user's own and
// that nobody else can write to it, so that nobody can swap the socket.
func privateDir(dir string) error {
	if dir == rootless.RunDir() {
		return rootless.EnsureRunDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("socket directory %s is not a directory", dir)
	case int(st.Uid) != os.Getuid():
		// No uid in the message: inside the session's namespace another
		// user's is the overflow id (65534), which would mislead.
		return fmt.Errorf("socket directory %s belongs to another user, not to you: choose a directory of your own", dir)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("socket directory %s is writable by others (mode %o): chmod go-w it or choose another", dir, st.Mode&0o777)
	}
	return nil
}

// clearStaleSocket removes a socket a dead service left at path; a live
// one, or anything that is not a socket of the user's, is an error.
func clearStaleSocket(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s exists and is not a socket of yours: remove it or choose another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("a service already listens on %s", path)
	}
	return os.Remove(path)
}

// activationListener takes the socket systemd passed (LISTEN_PID is this
// process, LISTEN_FDS counts from fd 3). ok says there was one.
func activationListener() (net.Listener, string, bool, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, "", false, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, "", false, nil
	}
	// Neither the fds nor the variables go to the monitors this process
	// starts.
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	for fd := 4; fd < 3+n; fd++ {
		unix.CloseOnExec(fd)
	}
	f := os.NewFile(3, "LISTEN_FD_3")
	ln, err := net.FileListener(f) // a dup, close-on-exec
	f.Close()
	if err != nil {
		return nil, "", true, fmt.Errorf("socket activation: fd 3: %w", err)
	}
	path := ""
	if a, ok := ln.Addr().(*net.UnixAddr); ok {
		path = a.Name
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	} else {
		ln.Close()
		return nil, "", true, errors.New("socket activation: fd 3 is not a unix socket")
	}
	return ln, path, true, nil
}

// serverIdle is how long the service stays when idle under lodger-socket
// (or --time, when that is shorter): long enough for a client's next
// command to find it warm, short enough that an idle service is the
// small holder alone.
const serverIdle = 10 * time.Second

// holderProgram is the socket holder's program, which lodger's build puts
// beside lodger.
const holderProgram = "lodger-socket"

// execHolder replaces this process (same pid: systemd's main process, the
// one a user stops) with lodger-socket, which holds ln and starts this
// command again, with ln as its listener, whenever a client connects
// while none runs. It returns nil, and this process serves ln itself,
// when there is no lodger-socket beside lodger. One that another user
// could have written or planted there is refused (companion.Check).
func execHolder(ln net.Listener, path string, activated bool, idle int) error {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	prog := filepath.Join(filepath.Dir(self), holderProgram)
	if fi, err := os.Stat(prog); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nil
	}
	if err := companion.Check(prog); err != nil {
		return err
	}
	sc, err := ln.(*net.UnixListener).SyscallConn()
	if err != nil {
		return err
	}
	// A copy of the socket that survives exec (Go's fds are
	// close-on-exec); ln's own goes with the exec.
	fd := -1
	var dupErr error
	if err := sc.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD, 3) }); err != nil {
		return err
	}
	if dupErr != nil {
		return fmt.Errorf("hand the socket over: %w", dupErr)
	}
	sidle := serverIdle
	if idle > 0 && time.Duration(idle)*time.Second < sidle {
		sidle = time.Duration(idle) * time.Second
	}
	argv := []string{prog, "-fd", strconv.Itoa(fd), "-idle", (time.Duration(idle) * time.Second).String(), "-server-idle", sidle.String()}
	if !activated {
		argv = append(argv, "-remove", path)
	}
	// The server is this command again (its flags, the global ones too),
	// told how long to stay when idle; the last --time wins.
	argv = append(append(append(argv, "--", self), os.Args[1:]...), "--time="+strconv.Itoa(int(sidle/time.Second)))
	err = unix.Exec(prog, argv, os.Environ())
	unix.Close(fd)
	return fmt.Errorf("start %s: %w", prog, err)
}

// heldListener is the socket lodger-socket hands the service it starts;
// held says there is one.
func heldListener() (net.Listener, bool, error) {
	v, ok := os.LookupEnv(holder.ListenerEnv)
	if !ok {
		return nil, false, nil
	}
	// Not for the monitors this process starts.
	os.Unsetenv(holder.ListenerEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true, fmt.Errorf("%s=%q: want a file descriptor", holder.ListenerEnv, v)
	}
	f := os.NewFile(uintptr(fd), "lodger.sock")
	ln, err := net.FileListener(f) // a dup, close-on-exec
	f.Close()
	if err != nil {
		return nil, true, fmt.Errorf("the held socket: %w", err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, true, errors.New("the held socket is not a unix socket")
	}
	// The holder owns the socket file.
	ul.SetUnlinkOnClose(false)
	return ln, true, nil
}
