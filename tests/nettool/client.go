package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// get fetches a URL and copies the body to stdout.
func get(args []string) error {
	fs := newFlags("get")
	timeout := fs.Duration("timeout", 10*time.Second, "for the whole request, body included")
	pos, err := parseArgs(fs, args, "URL")
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: *timeout,
		// No proxy from the environment: the tests ask for the direct path.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	resp, err := client.Get(pos[0])
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", pos[0], resp.Status)
	}
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return fmt.Errorf("GET %s: read body: %w", pos[0], err)
	}
	return nil
}

// resolve prints every address of a name.
func resolve(args []string) error {
	fs := newFlags("resolve")
	timeout := fs.Duration("timeout", 10*time.Second, "for the lookup")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(ctx, pos[0])
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
	return nil
}

// request is the line dial sends; servers ignore what it says.
const request = "hello from nettool\n"

// dial connects, sends one line or datagram and prints the reply.
func dial(args []string) error {
	fs := newFlags("dial")
	timeout := fs.Duration("timeout", 5*time.Second, "for connecting and the reply together")
	pos, err := parseArgs(fs, args, "tcp|udp", "HOST:PORT")
	if err != nil {
		return err
	}
	network, addr := pos[0], pos[1]
	if network != "tcp" && network != "udp" {
		return fmt.Errorf("dial: network %q, want tcp or udp", network)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(c, request); err != nil {
		return err
	}
	var reply string
	if network == "udp" {
		buf := make([]byte, 64<<10)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		reply = string(buf[:n])
	} else {
		reply, err = bufio.NewReader(c).ReadString('\n')
		if err != nil && reply == "" {
			return fmt.Errorf("read reply from %s: %w", addr, err)
		}
	}
	if !strings.HasSuffix(reply, "\n") {
		reply += "\n"
	}
	_, err = io.WriteString(os.Stdout, reply)
	return err
}
