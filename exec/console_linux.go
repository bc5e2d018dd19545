package exec

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// recvFD receives a descriptor the init sends on its socket (send_fd in
// exec/nsinit), tagged with the byte what: 'p' a pty master, 'c' the
// connect listener.
func recvFD(sock *os.File, what byte) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for i := range msgs {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if n != 1 || buf[0] != what || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		if n == 0 {
			return nil, errors.New("no descriptor (container init failed?)")
		}
		return nil, fmt.Errorf("unexpected message %q from the init", buf[:n])
	}
	if what == 'c' {
		// Its reader waits for notifications in the Go poller, which
		// takes only descriptors that are non-blocking from the start.
		if err := unix.SetNonblock(fds[0], true); err != nil {
			unix.Close(fds[0])
			return nil, err
		}
		return os.NewFile(uintptr(fds[0]), "connect-listener"), nil
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}
