package exec

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// recvConsole receives the pty master that the init sends (op_terminal in
// exec/nsinit).
func recvConsole(sock *os.File) (*os.File, error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receive pty: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("receive pty: no descriptor (container init failed?)")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("receive pty: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}
