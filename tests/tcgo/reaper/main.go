// Command reaper is a resource reaper for the tests, speaking the protocol
// of testcontainers' Ryuk: a client connects on port 8080 and sends one
// line of filters ("label=K=V&label=K2=V2"), answered "ACK"; once every
// client has gone and none came back within RYUK_RECONNECTION_TIMEOUT
// (10s), the containers, networks and volumes that match are removed
// through the Engine API socket bind-mounted at /var/run/docker.sock.
//
// Ryuk's own module is not served by the Go module proxy this project
// builds from; this is the same protocol, enough for the tests to run
// testcontainers with its reaper against lodger's socket (issue 15).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const sock = "/var/run/docker.sock"

var api = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "unix", sock)
}}}

func call(method, path string) ([]byte, error) {
	req, err := http.NewRequest(method, "http://docker"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := api.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return b, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b, nil
}

// reap removes what filters select.
func reap(filters map[string][]string) {
	f, _ := json.Marshal(filters)
	q := url.QueryEscape(string(f))
	var ctrs []struct {
		ID string `json:"Id"`
	}
	if b, err := call("GET", "/containers/json?all=1&filters="+q); err == nil {
		_ = json.Unmarshal(b, &ctrs)
	}
	for _, c := range ctrs {
		if _, err := call("DELETE", "/containers/"+c.ID+"?force=1&v=1"); err != nil {
			log.Printf("remove container %s: %v", c.ID, err)
		} else {
			log.Printf("removed container %s", c.ID)
		}
	}
	var nets []struct {
		ID string `json:"Id"`
	}
	if b, err := call("GET", "/networks?filters="+q); err == nil {
		_ = json.Unmarshal(b, &nets)
	}
	for _, n := range nets {
		if _, err := call("DELETE", "/networks/"+n.ID); err != nil {
			log.Printf("remove network %s: %v", n.ID, err)
		}
	}
	var vols struct{ Volumes []struct{ Name string } }
	if b, err := call("GET", "/volumes?filters="+q); err == nil {
		_ = json.Unmarshal(b, &vols)
	}
	for _, v := range vols.Volumes {
		_, _ = call("DELETE", "/volumes/"+v.Name+"?force=1")
	}
}

func main() {
	wait := 10 * time.Second
	if v := os.Getenv("RYUK_RECONNECTION_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			wait = d
		}
	}
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("Started")
	var mu sync.Mutex
	filters := map[string][]string{}
	clients := 0
	gone := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			clients++
			mu.Unlock()
			go func() {
				defer func() {
					c.Close()
					mu.Lock()
					clients--
					mu.Unlock()
					gone <- struct{}{}
				}()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					q, _ := url.ParseQuery(strings.TrimSpace(line))
					mu.Lock()
					for k, vs := range q {
						filters[k] = append(filters[k], vs...)
					}
					mu.Unlock()
					if _, err := c.Write([]byte("ACK\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	for range gone {
		// Every client gone: wait for one to come back, then reap.
		deadline := time.After(wait)
	waiting:
		for {
			select {
			case <-gone:
			case <-deadline:
				break waiting
			}
		}
		mu.Lock()
		n := clients
		f := filters
		mu.Unlock()
		if n > 0 {
			continue
		}
		log.Printf("reaping %v", f)
		reap(f)
		return
	}
}
