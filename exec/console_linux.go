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
	return os.NewFile(uintptr(fds[0]), map[byte]string{'p': "pty-master", 'c': "connect-listener"}[what]), nil
}
