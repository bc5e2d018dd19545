package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkEvent is what the gateway's watch needs of a link event: which
// link, whether it went, and the bridge it is on (its master's index).
type linkEvent struct {
	name   string
	del    bool
	master int
}

// linkEvents is a netlink socket subscribed to the link events of the
// network namespace it was made in. The gateway used netlink's
// LinkSubscribe, which makes a 64 KiB buffer per message it reads and a
// full link object per event: a container's start and exit brought
// several events, and their garbage, under the gateway's 8 MiB memory
// limit, a collection each time. This reads into one buffer and keeps
// three fields.
type linkEvents struct {
	f   *os.File
	buf []byte
}

// subscribeLinks subscribes to the link events of the calling thread's
// network namespace: call it on a thread in the bridge's (inNetns). The
// socket stays in that namespace, and is read from any thread.
func subscribeLinks() (*linkEvents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_LINK - 1)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("subscribe to link events: %w", err)
	}
	// Non-blocking: the runtime's poller waits for it, not a thread.
	return &linkEvents{f: os.NewFile(uintptr(fd), "netlink-link-events"), buf: make([]byte, 32<<10)}, nil
}

// errEventsLost: the socket's buffer overflowed (ENOBUFS) and events were
// dropped; the reader must look at the links again.
var errEventsLost = errors.New("link events lost")

// read waits for the next link events and appends them to evs.
func (l *linkEvents) read(evs []linkEvent) ([]linkEvent, error) {
	n, err := l.f.Read(l.buf)
	if errors.Is(err, unix.ENOBUFS) {
		return evs, errEventsLost
	}
	if err != nil {
		return evs, err
	}
	msgs, err := syscall.ParseNetlinkMessage(l.buf[:n])
	if err != nil {
		return evs, fmt.Errorf("parse link events: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			continue
		}
		ev := linkEvent{del: m.Header.Type == unix.RTM_DELLINK}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				ev.name = string(trimNul(a.Value))
			case unix.IFLA_MASTER:
				if len(a.Value) >= 4 {
					ev.master = int(binary.NativeEndian.Uint32(a.Value))
				}
			}
		}
		if ev.name != "" {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

func (l *linkEvents) Close() error { return l.f.Close() }

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
