package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	// maxUDPInFlight bounds the UDP queries being answered at once; past
	// it ServeUDP stops reading and the socket's queue absorbs or drops
	// the rest, as a busy nameserver's would.
	maxUDPInFlight = 256

	// maxTCPConns bounds open TCP connections; more are closed at once.
	maxTCPConns = 64

	// tcpIdle is how long a TCP connection may wait for its next query.
	// RFC 7766 asks for seconds, not minutes, to keep idle clients cheap.
	tcpIdle = 10 * time.Second
)

// ServeUDP answers the queries arriving on conn until reading it fails,
// and waits for the queries in flight. It returns nil when conn was
// closed, else the read error.
func (r *Resolver) ServeUDP(conn net.PacketConn) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := make(chan struct{}, maxUDPInFlight)
	buf := make([]byte, maxMessage)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read DNS query: %w", err)
		}
		query := append([]byte(nil), buf[:n]...)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := r.AnswerFrom(ctx, query, false, addrOf(addr))
			if err != nil {
				return
			}
			// A lost reply is a timeout for the client, which retries.
			_, _ = conn.WriteTo(resp, addr)
		}()
	}
}

// ServeTCP answers queries on the connections l accepts, framed with a
// 2-byte length (RFC 1035 4.2.2), one at a time per connection, until
// accepting fails. It then closes the open connections and returns nil
// when l was closed, else the accept error.
func (r *Resolver) ServeTCP(l net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
	)
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept DNS connection: %w", err)
		}
		mu.Lock()
		if len(conns) >= maxTCPConns {
			mu.Unlock()
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// serveConn answers the queries on one TCP connection until the client
// closes it, idles, or sends a message that cannot be answered.
func (r *Resolver) serveConn(ctx context.Context, c net.Conn) {
	var l [2]byte
	for {
		if err := c.SetReadDeadline(time.Now().Add(tcpIdle)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		query := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		resp, err := r.AnswerFrom(ctx, query, true, addrOf(c.RemoteAddr()))
		if err != nil {
			return
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		if err := c.SetWriteDeadline(time.Now().Add(tcpIdle)); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// addrOf is the IP address of a client's net.Addr, invalid if unknown.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
