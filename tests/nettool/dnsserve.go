package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServe is `nettool dnsserve PORT NAME=IP`: a nameserver over UDP
// that knows one name and answers NXDOMAIN for every other, printing
// "query NAME" for each question. The tests give it to a container as
// --dns and check which names reach it.
func dnsServe(args []string) error {
	fs := newFlags("dnsserve")
	pos, err := parseArgs(fs, args, "PORT", "NAME=IP")
	if err != nil {
		return err
	}
	name, ip, ok := strings.Cut(pos[1], "=")
	addr, perr := netip.ParseAddr(ip)
	if !ok || perr != nil || !addr.Is4() {
		return fmt.Errorf("dnsserve: %q: want NAME=IPv4", pos[1])
	}
	name = strings.ToLower(strings.TrimSuffix(name, ".")) + "."
	c, err := net.ListenPacket("udp", ":"+pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil || h.Response {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		fmt.Printf("query %s\n", q.Name.String())
		known := strings.ToLower(q.Name.String()) == name
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		if !known {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		if err := b.StartQuestions(); err != nil {
			return err
		}
		if err := b.Question(q); err != nil {
			return err
		}
		if known && q.Type == dnsmessage.TypeA {
			if err := b.StartAnswers(); err != nil {
				return err
			}
			res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(res, dnsmessage.AResource{A: addr.As4()}); err != nil {
				return err
			}
		}
		msg, err := b.Finish()
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(msg, from); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
}
