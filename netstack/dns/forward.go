package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// errMismatch is a TCP reply to some other query.
var errMismatch = errors.New("reply ID does not match the query")

var errNoDial = errors.New("a client's own nameserver, and no policy to dial it under")

// forward sends query unchanged to each upstream in turn and returns the
// first useful reply. SERVFAIL and REFUSED count as failures worth trying
// the next server for, as glibc does; if every server fails that way the
// last such reply is returned, and if none replied, a SERVFAIL of our own.
// servers, when not empty, are asked in place of the host's.
func (r *Resolver) forward(ctx context.Context, query []byte, h dnsmessage.Header, q dnsmessage.Question, tcp bool, servers []netip.AddrPort) ([]byte, error) {
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	default:
		return reply(h, &q, dnsmessage.RCodeServerFailure)
	}
	own := len(servers) > 0
	if !own {
		servers = r.upstreams()
	}
	var last []byte
	for _, s := range servers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resp, err := r.exchange(ctx, s, query, h.ID, tcp, own)
		if err != nil {
			continue
		}
		switch rcode(resp) {
		case dnsmessage.RCodeServerFailure, dnsmessage.RCodeRefused:
			last = resp
			continue
		}
		return resp, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if last != nil {
		return last, nil
	}
	return reply(h, &q, dnsmessage.RCodeServerFailure)
}

// rcode reads the 4-bit RCODE from a message header of at least 12 bytes.
func rcode(msg []byte) dnsmessage.RCode {
	return dnsmessage.RCode(msg[3] & 0x0f)
}

// exchange makes one attempt at server. Over UDP it sends the query once
// and waits out the timeout for a reply with the query's ID, dropping
// others: a late reply to an earlier query, or a spoofing attempt, must not
// end the wait. A truncated UDP reply is returned as it is, so the client
// asks again over TCP and the next query is forwarded over TCP.
// own says server is a client's (Upstreams), dialled with Config.Dial.
func (r *Resolver) exchange(ctx context.Context, server netip.AddrPort, query []byte, id uint16, tcp, own bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	network := "udp"
	if tcp {
		network = "tcp"
	}
	var c net.Conn
	var err error
	switch {
	case own && r.cfg.Dial == nil:
		// A client's servers are reached only under its policy: a
		// resolver built without one dials none of them from the host.
		err = errNoDial
	case own:
		c, err = r.cfg.Dial(ctx, network, server)
	default:
		var d net.Dialer
		c, err = d.DialContext(ctx, network, server.String())
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Unblock reads at once when the caller gives up, not at the deadline.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if tcp {
		return exchangeTCP(c, query, id)
	}
	return exchangeUDP(c, query, id)
}

func exchangeUDP(c net.Conn, query []byte, id uint16) ([]byte, error) {
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, maxMessage)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if isReplyTo(buf[:n], id) {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

func exchangeTCP(c net.Conn, query []byte, id uint16) ([]byte, error) {
	msg := make([]byte, 2+len(query))
	binary.BigEndian.PutUint16(msg, uint16(len(query)))
	copy(msg[2:], query)
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		return nil, err
	}
	if !isReplyTo(resp, id) {
		return nil, fmt.Errorf("TCP reply from %v: %w", c.RemoteAddr(), errMismatch)
	}
	return resp, nil
}

// isReplyTo reports whether msg is a response with the given ID.
func isReplyTo(msg []byte, id uint16) bool {
	return len(msg) >= 12 && binary.BigEndian.Uint16(msg) == id && msg[2]&0x80 != 0
}
