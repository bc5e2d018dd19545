package netstack

// A small io_uring of the monitor's own, for one thing: an accept on a
// container's listening socket that never waits, whatever the socket's
// O_NONBLOCK says (issue 12). The monitor holds a duplicate of the
// container's descriptor, which shares its open file description, so the
// container can clear O_NONBLOCK between any check and an accept4(2), and
// an accept4 would then block the monitor's thread in the kernel.
// IORING_OP_ACCEPT with IORING_ACCEPT_DONTWAIT (Linux 6.10) tries the
// accept with O_NONBLOCK forced and completes at once, with the socket or
// with EAGAIN, in the io_uring_enter call that submits it. Where io_uring
// is missing, disabled (kernel.io_uring_disabled) or too old for the flag,
// the monitor accepts nothing on a container's socket.
//
// The ring is the monitor's, never the container's: the container's own
// seccomp profile refuses io_uring_setup.

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct io_uring_params and its offsets (linux/io_uring.h).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// struct io_uring_sqe, as an accept uses it.
type uringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	addr2         uint64 // accept: the address length's pointer
	addr          uint64 // accept: the address's pointer
	len           uint32
	acceptFlags   uint32
	userData      uint64
	bufIndex      uint16
	personality   uint16
	fileIndex     uint32
	addr3         uint64
	pad           uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

var (
	_ [unsafe.Sizeof(uringParams{}) - 120]byte
	_ [120 - unsafe.Sizeof(uringParams{})]byte
	_ [unsafe.Sizeof(uringSQE{}) - 64]byte
	_ [64 - unsafe.Sizeof(uringSQE{})]byte
)

const (
	uringOpAccept       = 13
	uringAcceptDontwait = 1 << 1
	uringFeatSingleMmap = 1
	uringOffSQRing      = 0
	uringOffCQRing      = 0x8000000
	uringOffSQEs        = 0x10000000
)

// uring is a ring of one entry, used by one caller at a time.
type uring struct {
	mu                     sync.Mutex
	fd                     int
	sqHead, sqTail, sqMask *uint32
	sqArray                *uint32
	sqe                    *uringSQE
	cqHead, cqTail, cqMask *uint32
	cqes                   unsafe.Pointer
	usable                 bool // the kernel accepted IORING_ACCEPT_DONTWAIT
}

var (
	ringOnce sync.Once
	ring     *uring // nil: no io_uring here
)

// errNoRing: the monitor cannot accept without waiting here.
var errNoRing = errors.New("no io_uring accept that never waits")

// acceptNoWait accepts a connection on the listening socket fd with
// SOCK_NONBLOCK|SOCK_CLOEXEC, never waiting: EAGAIN when none is queued.
func acceptNoWait(fd int) (int, error) {
	ringOnce.Do(func() { ring = newRing() })
	if ring == nil {
		return -1, errNoRing
	}
	return ring.accept(fd)
}

func newRing() *uring {
	var p uringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil
	}
	r := &uring{fd: int(fd), usable: true}
	unix.CloseOnExec(r.fd)
	single := p.features&uringFeatSingleMmap != 0
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var maps [][]byte
	mmap := func(off int64, size int) []byte {
		b, err := unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil
		}
		maps = append(maps, b)
		return b
	}
	// A ring in use is never unmapped: it lives as long as the process.
	release := func() *uring {
		for _, b := range maps {
			_ = unix.Munmap(b)
		}
		unix.Close(r.fd)
		return nil
	}
	sq := mmap(uringOffSQRing, sqSize)
	cq := sq
	if !single {
		cq = mmap(uringOffCQRing, cqSize)
	}
	sqes := mmap(uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})))
	if sq == nil || cq == nil || sqes == nil {
		return release()
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail, r.sqMask, r.sqArray = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), u32(sq, p.sqOff.ringMask), u32(sq, p.sqOff.array)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), u32(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Pointer(&cq[p.cqOff.cqes])
	r.sqe = (*uringSQE)(unsafe.Pointer(&sqes[0]))
	// A kernel before IORING_ACCEPT_DONTWAIT (6.10) refuses the flag
	// with EINVAL, which a socket that does not listen gives too: asked
	// once, of a listening socket of this process's own with nothing
	// queued, which must answer EAGAIN.
	probe, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return release()
	}
	defer unix.Close(probe)
	// An empty name: the kernel picks an abstract one (autobind).
	if unix.Bind(probe, &unix.SockaddrUnix{}) != nil || unix.Listen(probe, 1) != nil {
		return release()
	}
	if _, err := r.accept(probe); err != unix.EAGAIN {
		return release()
	}
	return r
}

func (r *uring) accept(fd int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.usable {
		return -1, errNoRing
	}
	*r.sqe = uringSQE{
		opcode:      uringOpAccept,
		ioprio:      uringAcceptDontwait,
		fd:          int32(fd),
		acceptFlags: unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC,
		userData:    1,
	}
	tail := atomic.LoadUint32(r.sqTail)
	*(*uint32)(unsafe.Add(unsafe.Pointer(r.sqArray), 4*(tail&*r.sqMask))) = 0
	atomic.StoreUint32(r.sqTail, tail+1)
	// Submitted without waiting for completions: the accept runs in
	// this call and its completion is posted before it returns.
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		if errno == unix.EINTR && atomic.LoadUint32(r.sqHead) == tail {
			continue // nothing submitted yet
		}
		break
	}
	head := atomic.LoadUint32(r.cqHead)
	if atomic.LoadUint32(r.sqHead) == tail || atomic.LoadUint32(r.cqTail) == head {
		// Not taken, or not done at once (no kernel should): the ring
		// is not used again, rather than waited on.
		r.usable = false
		return -1, errNoRing
	}
	cqe := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&*r.cqMask)*unsafe.Sizeof(uringCQE{})))
	res := cqe.res
	atomic.StoreUint32(r.cqHead, head+1)
	if res >= 0 {
		return int(res), nil
	}
	return -1, unix.Errno(-res)
}
