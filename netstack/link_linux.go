package netstack

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The virtio-net header the kernel puts before every frame of a TAP
// opened with IFF_VNET_HDR (include/uapi/linux/virtio_net.h).
const (
	vnetHdrSize = 10

	vnetFlagNeedsCsum = 1 // checksum is partial: the sender did not compute it
	vnetFlagDataValid = 2 // checksum already checked

	vnetGSONone  = 0
	vnetGSOTCPv4 = 1
	vnetGSOTCPv6 = 4
)

// tapLink is the stack's end of the container's TAP device: one frame per
// read or write, each behind a virtio-net header. With the header the
// container's kernel may hand over frames whose checksums it skipped
// (TUN_F_CSUM) and TCP segments of up to 64 KiB (TUN_F_TSO*), and take
// ours the same way: the checksum work of a frame is done by nobody,
// since neither end of a TAP is a wire. gVisor's fdbased endpoint knows
// the header only for packet sockets, hence this small endpoint.
type tapLink struct {
	file *os.File
	rc   interface {
		Read(func(fd uintptr) bool) error
		Write(func(fd uintptr) bool) error
	}
	mtu  uint32
	addr tcpip.LinkAddress

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	done       chan struct{}
	// intercept, when set, sees each frame first and may take it.
	intercept func(frame []byte) bool
	// ownOnly drops frames for other MACs (a TAP on a bridge).
	ownOnly bool
	// linger, when set, is handed the TAP before Close closes it.
	linger func(*os.File) error
	// closed makes Close idempotent: gVisor closes the link when its NIC
	// goes, and the stack's own Close does too. Before, each started a
	// lodger-linger of its own (TestNetworkTeardownLeavesNothing).
	closed sync.Once
}

var _ stack.LinkEndpoint = (*tapLink)(nil)
var _ stack.GSOEndpoint = (*tapLink)(nil)

// newTapLink wraps a non-blocking TAP fd opened with
// IFF_TAP|IFF_NO_PI|IFF_VNET_HDR. The link owns the file from here on.
func newTapLink(f *os.File, mtu uint32, addr tcpip.LinkAddress) (*tapLink, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &tapLink{file: f, rc: rc, mtu: mtu, addr: addr, done: make(chan struct{})}, nil
}

func (l *tapLink) MTU() uint32                           { return l.mtu }
func (l *tapLink) SetMTU(mtu uint32)                     { l.mtu = mtu }
func (l *tapLink) MaxHeaderLength() uint16               { return header.EthernetMinimumSize }
func (l *tapLink) LinkAddress() tcpip.LinkAddress        { return l.addr }
func (l *tapLink) SetLinkAddress(addr tcpip.LinkAddress) { l.addr = addr }
func (l *tapLink) ARPHardwareType() header.ARPHardwareType {
	return header.ARPHardwareEther
}

// Capabilities: inbound checksums are not verified. A TAP is no wire:
// nothing corrupts a frame between the container's kernel and here, and
// the kernel hands most frames over with the checksum left undone
// (TUN_F_CSUM). A container that sends bad checksums on purpose (raw
// sockets) only garbles its own flows.
func (l *tapLink) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// GSOMaxSize and SupportedGSO let gVisor's TCP hand us segments of up to
// 64 KiB, which the vnet header passes to the container's kernel whole.
func (l *tapLink) GSOMaxSize() uint32               { return 1 << 16 }
func (l *tapLink) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

func (l *tapLink) Attach(d stack.NetworkDispatcher) {
	l.mu.Lock()
	old := l.dispatcher
	l.dispatcher = d
	l.mu.Unlock()
	if d != nil && old == nil {
		go l.readLoop()
	}
}

func (l *tapLink) IsAttached() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.dispatcher != nil
}

// Wait waits for the reader to stop after Close.
func (l *tapLink) Wait() {
	if l.IsAttached() {
		<-l.done
	}
}

// Close stops the reader; the container's end of the TAP goes with its
// network namespace. With a linger hook the last close of the device
// happens elsewhere.
func (l *tapLink) Close() {
	l.closed.Do(func() {
		if l.linger != nil {
			_ = l.linger(l.file)
		}
		_ = l.file.Close()
	})
}

// SetOnCloseAction: nothing else closes the link.
func (l *tapLink) SetOnCloseAction(func()) {}

func (l *tapLink) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

func (l *tapLink) ParseHeader(pkt *stack.PacketBuffer) bool {
	hdr, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		return false
	}
	pkt.NetworkProtocolNumber = header.Ethernet(hdr).Type()
	return true
}

// Each frame is read into two pooled views: the headers land in a small
// one, the payload in a 64 KiB one. gVisor copies a view's whole chunk
// when it must write to a shared one (parsing headers of a cloned
// packet), so headers apart cost a copy of 256 bytes, not 64 KiB, and
// neither view is a fresh allocation for the garbage collector.
const (
	headSize = 256
	bodySize = buffer.MaxChunkSize
)

// readLoop delivers the container's frames to the stack until the file is
// closed.
func (l *tapLink) readLoop() {
	defer close(l.done)
	var vh [vnetHdrSize]byte
	iov := make([]unix.Iovec, 3)
	iov[0] = unix.Iovec{Base: &vh[0], Len: vnetHdrSize}
	for {
		head := buffer.NewViewSize(headSize)
		body := buffer.NewViewSize(bodySize)
		iov[1] = unix.Iovec{Base: &head.AsSlice()[0], Len: headSize}
		iov[2] = unix.Iovec{Base: &body.AsSlice()[0], Len: bodySize}
		var n int
		var errno error
		err := l.rc.Read(func(fd uintptr) bool {
			r, _, e := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			n, errno = int(r), nil
			if e != 0 {
				errno = e
			}
			return e != unix.EAGAIN
		})
		if err != nil || (errno != nil && errno != unix.EINTR) {
			head.Release()
			body.Release()
			return
		}
		n -= vnetHdrSize
		if n < header.EthernetMinimumSize {
			head.Release()
			body.Release()
			continue
		}
		var payload buffer.Buffer
		if n <= headSize {
			head.CapLength(n)
			body.Release()
			payload = buffer.MakeWithView(head)
		} else {
			body.CapLength(n - headSize)
			payload = buffer.MakeWithView(head)
			_ = payload.Append(body) // fails only on a short copy into head's view, which grows to fit
		}
		if l.ownOnly && !l.forUs(head.AsSlice()) {
			payload.Release()
			continue
		}
		if l.intercept != nil && mayIntercept(head.AsSlice()) && l.intercept(payload.Flatten()) {
			payload.Release()
			continue
		}
		l.deliver(payload)
	}
}

// forUs says whether a frame is addressed to the link's MAC, or to all
// (broadcast, multicast).
func (l *tapLink) forUs(head []byte) bool {
	return head[0]&1 == 1 || string(head[:6]) == string(l.addr)
}

// mayIntercept says whether a frame, by its first bytes, is ICMP or ARP.
func mayIntercept(head []byte) bool {
	const eth = header.EthernetMinimumSize
	if head[12] == 0x08 && head[13] == 0x06 {
		return true
	}
	if len(head) < eth+header.IPv6MinimumSize {
		return len(head) >= eth+header.IPv4MinimumSize && head[12] == 0x08 && head[13] == 0x00 && head[eth+9] == 1
	}
	switch {
	case head[12] == 0x08 && head[13] == 0x00:
		return head[eth+9] == byte(header.ICMPv4ProtocolNumber)
	case head[12] == 0x86 && head[13] == 0xdd:
		return head[eth+6] == byte(header.ICMPv6ProtocolNumber)
	}
	return false
}

func (l *tapLink) deliver(payload buffer.Buffer) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	defer pkt.DecRef()
	hdr, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		return
	}
	eth := header.Ethernet(hdr)
	l.mu.RLock()
	d := l.dispatcher
	l.mu.RUnlock()
	if d != nil {
		d.DeliverNetworkPacket(eth.Type(), pkt)
	}
}

// WritePackets writes each packet as one frame behind its vnet header.
func (l *tapLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if tcpipErr := l.writePacket(pkt); tcpipErr != nil {
			if n == 0 {
				return 0, tcpipErr
			}
			break
		}
		n++
	}
	return n, nil
}

// writeFrame writes a frame built outside the stack.
func (l *tapLink) writeFrame(frame []byte) {
	var vh [vnetHdrSize]byte
	iov := []unix.Iovec{{Base: &vh[0], Len: vnetHdrSize}, {Base: &frame[0], Len: uint64(len(frame))}}
	_ = l.writev(iov)
}

func (l *tapLink) writev(iov []unix.Iovec) tcpip.Error {
	var errno unix.Errno
	err := l.rc.Write(func(fd uintptr) bool {
		_, _, errno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		// A full queue drops the frame, as a wire would; TCP resends.
		return true
	})
	if err != nil {
		return &tcpip.ErrClosedForSend{}
	}
	if errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR {
		return &tcpip.ErrInvalidEndpointState{}
	}
	return nil
}

// writeScratch is one write's header and iovecs, reused: per-packet
// garbage is what made the collector a fifth of the stack's time.
type writeScratch struct {
	vh  [vnetHdrSize]byte
	iov []unix.Iovec
}

var scratchPool = sync.Pool{New: func() any { return &writeScratch{iov: make([]unix.Iovec, 0, 8)} }}

func (l *tapLink) writePacket(pkt *stack.PacketBuffer) tcpip.Error {
	sc := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(sc)
	sc.vh = [vnetHdrSize]byte{}
	vh := &sc.vh
	if pkt.GSOOptions.Type != stack.GSONone {
		hdrLen := uint16(pkt.HeaderSize())
		vh[2], vh[3] = byte(hdrLen), byte(hdrLen>>8)
		if pkt.GSOOptions.NeedsCsum {
			vh[0] = vnetFlagNeedsCsum
			start := uint16(header.EthernetMinimumSize) + pkt.GSOOptions.L3HdrLen
			vh[6], vh[7] = byte(start), byte(start>>8)
			off := pkt.GSOOptions.CsumOffset
			vh[8], vh[9] = byte(off), byte(off>>8)
		}
		if pkt.Data().Size() > int(pkt.GSOOptions.MSS) {
			switch pkt.GSOOptions.Type {
			case stack.GSOTCPv4:
				vh[1] = vnetGSOTCPv4
			case stack.GSOTCPv6:
				vh[1] = vnetGSOTCPv6
			}
			mss := pkt.GSOOptions.MSS
			vh[4], vh[5] = byte(mss), byte(mss>>8)
		}
	}
	iov := append(sc.iov[:0], unix.Iovec{Base: &vh[0], Len: vnetHdrSize})
	for _, b := range pkt.AsSlices() {
		if len(b) > 0 {
			iov = append(iov, unix.Iovec{Base: &b[0], Len: uint64(len(b))})
		}
	}
	sc.iov = iov
	err := l.writev(iov)
	clear(iov) // no pointers into released packets kept alive
	return err
}
